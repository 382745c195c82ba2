"""The broker, through aiokafka."""
