"""Which replica writes: PostgreSQL session advisory locks, one per role (live, rebuild).

Several reporting replicas may run; only the holder of the ``live`` lock projects new events,
and only the holder of the ``rebuild`` lock builds a generation. A lock is held by one pooled
connection kept out of the pool for as long as it leads: were the process or its connection
to die, PostgreSQL releases the lock and a standby takes it at its next try.

Holding the lock is checked again inside every write (``Lease.check``, in the transaction
that applies a batch): a replica whose lock connection was lost stops at its next batch,
even if it has not noticed yet. Facts are idempotent, so a batch written twice around a
takeover would change nothing; the lock keeps the work, and the contention, single.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from refuge_common.db.pool import Connection

# Two-key advisory locks: the first key names reporting ('REPT'), the second the role; other
# services' locks (one-key, hashtext) cannot collide with them.
NAMESPACE = 0x52455054
LIVE = 1
REBUILD = 2


class LeadershipLost(Exception):
    """This replica no longer holds the lock it writes under."""


@dataclass
class Lease:
    """A held lock: the connection holding it and that connection's backend pid."""

    role: int
    connection: PoolConnectionProxy[Any]
    pid: int

    async def check(self, connection: Connection) -> None:
        """Raise ``LeadershipLost`` unless the lock is still held (on any connection)."""

        await held_by(connection, self.role, self.pid)


async def held_by(connection: Connection, role: int, pid: int) -> None:
    """Raise ``LeadershipLost`` unless backend ``pid`` holds the lock of ``role``: a check
    any process can make (a rebuild's worker processes check their parent's lock)."""

    held = await connection.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2
              AND classid::bigint = $1 AND objid::bigint = $2 AND pid = $3)""",
        NAMESPACE,
        role,
        pid,
    )
    if not held:
        raise LeadershipLost(f"advisory lock {role} no longer held by backend {pid}")


class AdvisoryLocks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def try_acquire(self, role: int) -> Lease | None:
        """The lock if no one holds it; else None, at once."""

        connection = await self.pool.acquire()
        try:
            if await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", NAMESPACE, role):
                return Lease(role, connection, int(await connection.fetchval("SELECT pg_backend_pid()")))
        except BaseException:
            await self._give_back(connection)
            raise
        await self.pool.release(connection)
        return None

    async def held(self, role: int) -> bool:
        """Whether any session holds the lock now (without taking it, so that a check
        never makes another replica's attempt fail)."""

        return bool(
            await self.pool.fetchval(
                """SELECT EXISTS (SELECT 1 FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND objsubid = 2
                      AND classid::bigint = $1 AND objid::bigint = $2)""",
                NAMESPACE,
                role,
            )
        )

    async def release(self, lease: Lease) -> None:
        unlocked = False
        with contextlib.suppress(Exception):
            unlocked = bool(
                await lease.connection.fetchval("SELECT pg_advisory_unlock($1, $2)", NAMESPACE, lease.role)
            )
        if unlocked:
            await self.pool.release(lease.connection)
        else:
            await self._give_back(lease.connection)

    async def _give_back(self, connection: PoolConnectionProxy[Any]) -> None:
        # The pool's release does not unlock session advisory locks (see refuge_common's
        # pool): a connection that may still hold one is closed, never reused.
        with contextlib.suppress(Exception):
            connection.terminate()
        with contextlib.suppress(Exception):
            await self.pool.release(connection)
