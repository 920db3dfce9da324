"""Measuring code shared by ``zloop bench`` and the checkout's ``bench/`` scripts.

:mod:`~zloop._bench.proc` starts and reads worker processes; :mod:`~zloop._bench.throughput`
(PUSH -> PULL) and :mod:`~zloop._bench.latency` (round trips) run zloop beside pyzmq in two
processes per row; :mod:`~zloop._bench.adapters` does the same for the event-loop adapters beside
pyzmq's integrations of each loop (a pyzmq sender or echo peer); :mod:`~zloop._bench.perf` plays libzmq's perf-tool roles (local_thr,
remote_thr, local_lat, remote_lat) against any peer; :mod:`~zloop._bench.plot` draws the results.
Workers run as ``python -m zloop._bench.<module> --worker ...``, so an installed zloop measures
itself without the checkout.
"""
