"""The Dask peer: a LocalCluster with one single-threaded worker process per core, driven by an async client.

Its task is the seed's `fibonacci(n)`, plain recursion in Python, submitted with
`await client.submit(fibonacci, n, pure=False)`.

`python peer_dask.py cold-start` is run by the harness as a fresh process: it prints `answered <seconds>` once the
first task has come back, then `idle` and stays up (idle) until its standard input closes, so that the harness can
read the resident memory of the whole process tree.

`python peer_dask.py serve` runs the cluster for the harness's other scenarios in a process of its own: it prints
`scheduler <address>` and `dashboard <link>`, then serves until its standard input closes. The harness's client
connects to it; with the scheduler and nannies outside the harness, the harness can stop every Dask process while
fibd's speed-up rounds run (see bench.py's dask_speedup).
"""

import os
import sys
import time


def fibonacci(n):
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def cluster_options():
    """One single-threaded worker process per core; the dashboard on a free loopback port."""
    return dict(
        n_workers=len(os.sched_getaffinity(0)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


async def cold_start():
    from dask.distributed import Client, LocalCluster

    started = time.perf_counter()
    async with LocalCluster(asynchronous=True, **cluster_options()) as cluster:
        async with Client(cluster, asynchronous=True) as client:
            value = await client.submit(fibonacci, 1, pure=False)
            assert value == 1
            print(f"answered {time.perf_counter() - started:.6f}", flush=True)
            print("idle", flush=True)
            # Idle until the harness closes our standard input (bounded: at most 120 s).
            import asyncio

            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), timeout=120)


async def serve():
    import asyncio

    from dask.distributed import LocalCluster

    async with LocalCluster(asynchronous=True, **cluster_options()) as cluster:
        print(f"scheduler {cluster.scheduler_address}", flush=True)
        print(f"dashboard {cluster.dashboard_link or ''}", flush=True)
        # Until the harness closes our standard input; bounded by the longest full run, with room to spare.
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), timeout=3600)


if __name__ == "__main__":
    import asyncio

    if sys.argv[1:] == ["cold-start"]:
        asyncio.run(cold_start())
    elif sys.argv[1:] == ["serve"]:
        asyncio.run(serve())
    else:
        sys.exit("usage: peer_dask.py cold-start | serve")
