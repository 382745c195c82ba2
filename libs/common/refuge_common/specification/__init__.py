"""The published event contract of a service as an AsyncAPI 3.0 document.

FastStream generates the document from subscribers and publishers; a service
consumes through FastStream, but publishes through its outbox relay, which FastStream
never sees. So the runtime keeps declarations (:mod:`.declarations`) of what each
service consumes and publishes, and :mod:`.asyncapi` hands them to a FastStream
broker used only for documentation, then adds what FastStream's model cannot say
(the CloudEvents headers, the Kafka key, the published JSON Schemas).
"""
