"""Delivery: the alert file on disk and Kafka (producer, consumer)."""
