"""Run the test suite in production mode: real PostgreSQL and Redis, started here.

python -m devtools.test_production [pytest arguments]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .services import Postgres, Redis, new_workdir


def main(argv: list[str]) -> int:
    workdir = new_workdir("mysmsapio-test-")
    # The test harness alone may trade durability for speed.
    postgres = Postgres(workdir / "postgres", durable=False)
    redis = Redis(workdir / "redis")
    try:
        postgres.start()
        redis.start()
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url(),
            "REDIS_URL": redis.url(),
            "SECRET_KEY": "test-only-secret-key-" + "x" * 40,
            "HASH_SECRET": "test-only-hash-secret-" + "y" * 40,
        }
        print(f"production mode: PostgreSQL on :{postgres.port}, Redis on :{redis.port}", flush=True)
        return subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
