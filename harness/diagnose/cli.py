"""``python -m harness.diagnose`` (``make diagnose``): report and diagnose the chart's pods, read-only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.diagnose.collect import collect
from harness.diagnose.report import format_report
from harness.diagnose.rules import diagnose
from harness.providers import Environment, flavour_of_context, parse_provider


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.diagnose",
        description="Diagnose the todo-chatbot pods: states, events, last logs, cause and fix (read-only).",
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one, printed)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("-n", "--namespace", help="namespace (default: every namespace with the chart's pods)")
    parser.add_argument(
        "-l", "--selector", default="app.kubernetes.io/name=todo-chatbot", help="pod label selector"
    )
    parser.add_argument(
        "--provider", help="kind[:NAME] | minikube[:PROFILE] | docker-desktop | local (default: from context)"
    )
    args = parser.parse_args(argv)

    from kubernetes import client, config

    try:
        contexts, current = config.list_kube_config_contexts(config_file=args.kubeconfig)
        context = args.context or current["name"]
        api = config.new_client_from_config(config_file=args.kubeconfig, context=context)
        core = client.CoreV1Api(api)
        client.VersionApi(api).get_code(_request_timeout=10)
        if args.namespace:
            namespaces = [args.namespace]
        else:
            pods = core.list_pod_for_all_namespaces(label_selector=args.selector).items
            namespaces = sorted({p.metadata.namespace for p in pods}) or []
    except Exception as exc:  # noqa: BLE001 - an unreachable cluster is the diagnosis here
        print(
            f"diagnose: cannot reach the cluster ({type(exc).__name__}: {exc}). Is it running? "
            "'minikube status' / 'kind get clusters' / Docker Desktop → Kubernetes / "
            "'python -m harness.localk8s status' (the local cluster; 'make cluster-up' starts it); "
            "'kubectl config get-contexts' lists the contexts",
            file=sys.stderr,
        )
        return 2
    env = parse_provider(args.provider) if args.provider else flavour_of_context(context)
    if not namespaces:
        print(f"context {context}: no pods match {args.selector} in any namespace (is the chart installed?)")
        return 0
    for namespace in namespaces:
        pods = collect(core, namespace, args.selector)
        ns_env = Environment(env.provider, env.cluster, namespace, env.release)
        print(format_report(pods, diagnose(pods, ns_env), header=f"== context {context}, namespace {namespace}"))
    return 0
