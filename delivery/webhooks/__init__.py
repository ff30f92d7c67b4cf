"""Webhooks to clients (DESIGN §7, §8): Standard Webhooks signatures and their retry schedule."""
