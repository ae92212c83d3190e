"""Delete RabbitMQ queues: ``python delete_queues.py AMQP_URL NAME...``.

`scripts/bench.py` runs it with the rendered service's interpreter (which has aio-pika)
to remove its run's queues from the machine's shared broker.
"""

import asyncio
import sys

import aio_pika


async def delete(url: str, names: list[str]) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


if __name__ == "__main__":
    asyncio.run(delete(sys.argv[1], sys.argv[2:]))
