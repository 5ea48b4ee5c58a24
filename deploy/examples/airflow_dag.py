"""Stream a pipeline's data through davnas, one KubernetesPodOperator per step.

The http-nas pattern, unchanged: each step is a small pod that pipes its input
from davnas with curl and its output back, so no step needs a volume of its
own and nothing is held in memory.

    produce    generate (or download) raw.csv and stream it in       POST
    transform  stream raw.csv out, transform it, stream the result   GET, POST, PUT (append)
    count      read the line count                                   GET .../wc

Files live under run-<ds>/ on the davnas volume, e.g. run-2026-11-25/raw.csv.

Requirements:
  * apache-airflow-providers-cncf-kubernetes; the pods run in the namespace
    of the davnas release (set NAMESPACE), reaching it as http://davnas:3000.
  * The pods carry the label davnas-client=true, which the chart's
    NetworkPolicy (networkPolicy.enabled) admits.
  * Optional bearer-token auth: store a token made with
    `davnas token --root runs pipeline` in a Secret,
        kubectl create secret generic davnas-pipeline-token --from-literal=token=TOKEN
    and every step sends it. Without the Secret (auth off) the steps run
    without it: the Secret reference is optional.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

NAMESPACE = "default"
DAVNAS = "http://davnas:3000"  # the chart's Service; http://http-nas:3000 after a migration
IMAGE = "curlimages/curl:8.11.1"  # curl and a POSIX shell (busybox)

# Every step's shell starts with this: fail on any error, including in a
# pipe's first command, and put the bearer token (when there is one) in "$@",
# which each curl below passes on.
PREAMBLE = r"""
set -eu
set -o pipefail
set --
if [ -n "${DAVNAS_TOKEN:-}" ]; then set -- -H "Authorization: Bearer $DAVNAS_TOKEN"; fi
"""

# The token, from an optional Secret: absent Secret, empty variable.
TOKEN_ENV = k8s.V1EnvVar(
    name="DAVNAS_TOKEN",
    value_from=k8s.V1EnvVarSource(
        secret_key_ref=k8s.V1SecretKeySelector(
            name="davnas-pipeline-token", key="token", optional=True
        )
    ),
)


def step(task_id: str, script: str) -> KubernetesPodOperator:
    """A pod that runs one shell script with curl against davnas."""
    return KubernetesPodOperator(
        task_id=task_id,
        name=f"davnas-{task_id}",
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["sh", "-c"],
        arguments=[PREAMBLE + script],  # templated: {{ ds }} is the run's date
        labels={"davnas-client": "true"},  # admitted by the chart's NetworkPolicy
        env_vars=[
            TOKEN_ENV,
            k8s.V1EnvVar(name="DAVNAS", value=DAVNAS),
        ],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "50m", "memory": "32Mi"},
            limits={"memory": "128Mi"},
        ),
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=100,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        get_logs=True,
        on_finish_action="delete_pod",
    )


with DAG(
    dag_id="davnas_stream",
    description="Stream data in and out of davnas with curl",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["davnas"],
) as dag:
    # 1. Produce the raw data and stream it in. POST creates or replaces the
    #    file atomically (a failed upload leaves no half file) and creates
    #    run-<ds>/; %2F is http-nas's form of "/" (plain / works too).
    #    Replace the generator with e.g. `curl -s -f https://source/data.csv`.
    produce = step(
        "produce",
        r"""
{ echo "id,value"; seq 1 100000 | awk '{ printf "%d,%d\n", $1, ($1 * 7919) % 1000 }'; } \
  | curl -X POST -H "Transfer-Encoding: chunked" "$@" -s -f -T - \
      "$DAVNAS/file/run-{{ ds }}%2Fraw.csv"
""",
    )

    # 2. Stream raw.csv back out, transform it, and write the result: the
    #    header with POST, then the rows appended with PUT (appends are
    #    serialized per file and rolled back if the stream breaks).
    transform = step(
        "transform",
        r"""
printf 'id,value,bucket\n' \
  | curl -X POST "$@" -s -f -T - "$DAVNAS/file/run-{{ ds }}%2Fclean.csv"
curl -s -f "$@" "$DAVNAS/file/run-{{ ds }}%2Fraw.csv" \
  | awk -F, 'NR > 1 && $2 >= 100 { printf "%s,%s,%s\n", $1, $2, int($2 / 100) }' \
  | curl -X PUT -H "Transfer-Encoding: chunked" "$@" -s -f -T - \
      "$DAVNAS/file/run-{{ ds }}%2Fclean.csv"
""",
    )

    # 3. Read the line count (header included) without downloading the file.
    count = step(
        "count",
        r"""
lines=$(curl -s -f "$@" "$DAVNAS/file/run-{{ ds }}%2Fclean.csv/wc")
echo "run-{{ ds }}/clean.csv: $lines lines"
[ "$lines" -gt 1 ]
""",
    )

    produce >> transform >> count
