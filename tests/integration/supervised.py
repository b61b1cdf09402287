"""Run DAGs the way production runs tasks, for tests that need a supervised execution.

``python -m tests.integration.supervised DAG_ID [DAG_ID ...]``, with the Airflow
environment (``AIRFLOW_HOME``, connections, ``USM_BILLING_CONFIG_DIR``) set by the caller:

1. serves the Task Execution API of this process on 127.0.0.1 (uvicorn in a thread, the
   same app as ``airflow api-server --apps execution``; port chosen by the OS) and points
   ``[core] execution_api_server_url`` at it;
2. runs each DAG once with ``dag.test(use_executor=True)``: the LocalExecutor forks worker
   processes, and each worker's supervisor forks the task process, talks to the API over
   HTTP and writes the task log file -- the production path, with secrets masking, unlike
   plain ``dag.test()`` which runs tasks in this process and masks nothing;
3. prints one line ``RESULT {"dag_id", "run_id", "state", "seconds", "tasks": {task_id:
   state}}``
   per DAG and exits 0 (a failed DAG run is a result, not an error).

Every task's retries are set to 0 so that a failing task fails at once instead of waiting
for its retry delay.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

JWT_SECRET_ENV = "AIRFLOW__API_AUTH__JWT_SECRET"


def _serve_execution_api() -> tuple[object, threading.Thread]:
    import uvicorn
    from airflow.api_fastapi.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    os.environ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    config = uvicorn.Config(create_app(apps="execution"), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="execution-api", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sys.exit("the execution API did not start")
        time.sleep(0.05)
    return server, thread


def main(dag_ids: list[str]) -> int:
    if not os.environ.get(JWT_SECRET_ENV):
        sys.exit(f"{JWT_SECRET_ENV} must be set (the executor signs, the API verifies)")
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    server, thread = _serve_execution_api()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        sys.exit(f"DAG import errors: {bag.import_errors}")
    try:
        for dag_id in dag_ids:
            dag = bag.get_dag(dag_id)
            if dag is None:
                sys.exit(f"no DAG {dag_id!r}; found {sorted(bag.dag_ids)}")
            for task in dag.tasks:
                task.retries = 0
            started = time.monotonic()
            run = dag.test(use_executor=True)
            tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
            result = {"dag_id": dag_id, "run_id": run.run_id, "state": str(run.state)}
            result["seconds"] = round(time.monotonic() - started, 1)
            print("RESULT " + json.dumps({**result, "tasks": tasks}), flush=True)
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
