"""Reading from several sockets at once with ``zloop.Poller`` (seed 002), level-triggered.

A PULL socket receives tasks from a ventilator and a SUB socket receives weather updates from a
publisher. One Poller waits on both; a socket stays "ready" for as long as it has messages, so the
loop can read one message per wake-up and still never miss one.

Run: python examples/poll_many.py
"""

from __future__ import annotations

import threading

import zloop

TASKS = 5
UPDATES = 5


def main() -> None:
    with zloop.Context() as ctx:
        tasks = ctx.socket(zloop.PULL)
        tasks.bind("inproc://tasks")
        weather = ctx.socket(zloop.SUB)
        weather.bind("inproc://weather")
        weather.subscribe("10001 ")  # only our zip code

        subscribed = threading.Event()

        def ventilator() -> None:
            with ctx.socket(zloop.PUSH) as push:
                push.connect("inproc://tasks")
                for i in range(TASKS):
                    push.send_string(f"task {i}")

        def publisher() -> None:
            with ctx.socket(zloop.PUB) as pub:
                pub.connect("inproc://weather")
                n = 0
                # Publish until the subscriber said it has everything it wanted (no fixed sleeps:
                # a subscription reaches a publisher some time after subscribe() returns).
                while not subscribed.is_set():
                    pub.send_string(f"10001 {20 + n % 10}C")
                    pub.send_string(f"90210 {30 + n % 10}C")  # filtered out
                    n += 1
                    subscribed.wait(0.01)

        threads = [threading.Thread(target=ventilator), threading.Thread(target=publisher)]
        for thread in threads:
            thread.start()

        poller = zloop.Poller()
        poller.register(tasks, zloop.POLLIN)
        poller.register(weather, zloop.POLLIN)
        got_tasks = got_updates = 0
        while got_tasks < TASKS or got_updates < UPDATES:
            ready = dict(poller.poll(5000))
            if not ready:
                raise SystemExit("nothing ready within 5 s")
            if tasks in ready and got_tasks < TASKS:
                print(f"task stream: {tasks.recv_string()}")
                got_tasks += 1
            if weather in ready:
                update = weather.recv_string()
                assert update.startswith("10001 ")
                if got_updates < UPDATES:
                    print(f"weather: {update}")
                got_updates += 1
        subscribed.set()
        for thread in threads:
            thread.join()
        tasks.close()
        weather.close()
    print(f"done: {TASKS} tasks and {UPDATES} weather updates through one Poller")


if __name__ == "__main__":
    main()
