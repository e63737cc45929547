"""MicroBatcher: concurrent requests' rows scored in one model call, in a worker thread.

A model call costs nearly as much for one row as for sixty (pandas and per-call overhead), so
rows that arrive while the model is busy are gathered and scored together once it is free. With
one client nothing waits: a lone request is scored at once (``max_wait_s`` can add a short wait
to gather more). Admission is bounded: past ``max_in_flight`` requests or ``max_queued_rows``
rows waiting, a request is refused at once (503) rather than queued without end.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mlwright.serving.problems import ApiError
from mlwright.serving.rows import RowBatch
from mlwright.serving.scoring import LoadedModel, Scored, merge_batches

__all__ = ["MicroBatcher"]


@dataclass
class _Job:
    model: LoadedModel
    batch: RowBatch
    future: asyncio.Future[Scored]


class MicroBatcher:
    """Gathers JSON rows into model calls; big file batches run alone on a second worker.

    Parameters
    ----------
    max_batch_rows:
        Most rows per model call; a request with more runs alone on the bulk worker.
    max_wait_s:
        Seconds to wait for more requests once one arrived (0: only those already here).
    max_in_flight:
        Most predict requests admitted at once (waiting or being scored).
    max_queued_rows:
        Most rows admitted at once.
    on_batch:
        Called with each model call's row count (metrics).

    Example:
        >>> batcher = MicroBatcher(); batcher.start()
        >>> scored = await batcher.submit(loaded_model, batch)
    """

    def __init__(
        self,
        *,
        max_batch_rows: int = 256,
        max_wait_s: float = 0.0,
        max_in_flight: int = 256,
        max_queued_rows: int = 100_000,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.max_in_flight = max_in_flight
        self.max_queued_rows = max_queued_rows
        self.on_batch = on_batch
        self.in_flight = 0
        self.queued_rows = 0
        self._jobs: deque[_Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self._online, self._bulk = _workers()

    def start(self) -> None:
        """Start the gathering task on the running event loop."""
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._gather(), name="mlwright-batch")
        self._stopped = False

    async def stop(self) -> None:
        """Stop gathering; requests still queued are answered 503."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(_shutting_down())
        self._online.shutdown(wait=False, cancel_futures=True)
        self._bulk.shutdown(wait=False, cancel_futures=True)
        # fresh (thread-less until used) workers, so that the app can be started again
        self._online, self._bulk = _workers()

    def _admit(self, rows: int) -> None:
        if self.in_flight >= self.max_in_flight or (
            self.queued_rows + rows > self.max_queued_rows and self.queued_rows > 0
        ):
            raise ApiError(
                503,
                "overloaded",
                f"the server is at capacity ({self.in_flight} requests, {self.queued_rows} rows "
                "in progress).",
                expected=f"at most {self.max_in_flight} requests or {self.max_queued_rows} rows "
                "at once",
                hint="Retry after a short pause (see Retry-After), or send fewer rows at once.",
                headers={"Retry-After": "1"},
            )

    async def submit(self, model: LoadedModel, batch: RowBatch) -> Scored:
        """Score ``batch`` with ``model``, together with other requests' rows when possible."""
        self._admit(batch.n_rows)
        self.in_flight += 1
        self.queued_rows += batch.n_rows
        try:
            loop = asyncio.get_running_loop()
            if self._stopped:
                raise _shutting_down()
            if batch.frame is not None or batch.n_rows > self.max_batch_rows:
                return await loop.run_in_executor(self._bulk, model.score, batch)
            if self._wakeup is None or loop is not self._loop:
                # not started, or called from another event loop (a test client without the
                # app's lifespan): score alone
                return await loop.run_in_executor(self._online, model.score, batch)
            future: asyncio.Future[Scored] = loop.create_future()
            self._jobs.append(_Job(model, batch, future))
            self._wakeup.set()
            return await future
        finally:
            self.in_flight -= 1
            self.queued_rows -= batch.n_rows

    def _take(self) -> list[_Job]:
        """The next jobs for one call: same model, up to ``max_batch_rows`` rows."""
        jobs = [self._jobs.popleft()]
        rows = jobs[0].batch.n_rows
        while self._jobs:
            job = self._jobs[0]
            if job.model is not jobs[0].model or rows + job.batch.n_rows > self.max_batch_rows:
                break
            jobs.append(self._jobs.popleft())
            rows += job.batch.n_rows
        return [j for j in jobs if not j.future.done()]  # drop requests already given up

    async def _gather(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                self._wakeup.clear()
                await self._wakeup.wait()
            if self.max_wait_s > 0:
                await asyncio.sleep(self.max_wait_s)
            jobs = self._take()
            if not jobs:
                continue
            try:
                parts = await loop.run_in_executor(self._online, _run, jobs)
            except Exception as exc:  # answer each request; the gatherer keeps going
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            if self.on_batch is not None:
                self.on_batch(sum(j.batch.n_rows for j in jobs))
            for job, part in zip(jobs, parts, strict=True):
                if job.future.done():
                    continue
                if isinstance(part, Exception):
                    job.future.set_exception(part)
                else:
                    job.future.set_result(part)


def _run(jobs: list[_Job]) -> list[Scored | Exception]:
    """Score the jobs in one call; if that fails, each alone, so one bad request fails alone."""
    model = jobs[0].model
    try:
        merged = merge_batches([j.batch for j in jobs])
        return list(model.score(merged).split([j.batch.n_rows for j in jobs]))
    except Exception as exc:
        if len(jobs) == 1:
            return [exc]
    results: list[Scored | Exception] = []
    for job in jobs:
        try:
            results.append(model.score(job.batch))
        except Exception as exc:
            results.append(exc)
    return results


def _workers() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The online worker (micro-batches) and the bulk one (file batches), one thread each."""
    online = ThreadPoolExecutor(1, thread_name_prefix="mlwright-predict")
    return online, ThreadPoolExecutor(1, thread_name_prefix="mlwright-bulk")


def _shutting_down() -> ApiError:
    return ApiError(
        503,
        "shutting_down",
        "the server is shutting down and did not score this request.",
        expected="a running server",
        hint="Retry against another replica or after the restart.",
        headers={"Retry-After": "1"},
    )
