"""``@rpc`` whose service queue can be a quorum queue (config ``QUEUE_TYPE: quorum``).

On a 3-node RabbitMQ cluster the service queues should be quorum queues (replicated).
A queue's type is fixed when it is declared and nameko declares ``rpc-<service>`` with
no arguments, so the type has to come from the declaring side: this consumer adds it.
Reply queues stay classic (they are exclusive and short-lived).
"""
from kombu import Queue
from nameko.rpc import Rpc as _Rpc
from nameko.rpc import RpcConsumer as _RpcConsumer
from nameko.rpc import RPC_QUEUE_TEMPLATE, get_rpc_exchange

from shared.errors import DomainError


def queue_arguments(config, **extra):
    args = dict(extra)
    if str(config.get("QUEUE_TYPE") or "classic").lower() == "quorum":
        args["x-queue-type"] = "quorum"
    return args


class RpcConsumer(_RpcConsumer):
    def setup(self):
        if self.queue is None:
            service_name = self.container.service_name
            self.queue = Queue(RPC_QUEUE_TEMPLATE.format(service_name),
                               exchange=get_rpc_exchange(self.container.config),
                               routing_key=f"{service_name}.*", durable=True,
                               queue_arguments=queue_arguments(self.container.config) or None)
            self.queue_consumer.register_provider(self)
            self._registered = True


class Rpc(_Rpc):
    """Domain errors (404, 409, 422 …) are the caller's problem, expected: nameko logs them
    at WARNING without a traceback instead of as a worker error."""

    rpc_consumer = RpcConsumer()

    def __init__(self, expected_exceptions=DomainError, **kwargs):
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)


rpc = Rpc.decorator
