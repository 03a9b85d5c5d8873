"""Render cases of the static tier: the default values, every values-*.yaml and a matrix of --set overrides.

Renders are cached per combination (harness.kube.render), so the whole tier renders each
combination once, in well under a second each.
"""

from __future__ import annotations

from typing import Any

from harness.kube import render as r

SECRETS = r.TEST_SECRETS_VALUES

# name -> (values files, --set values). Every case must render and pass every policy.
RENDER_CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "defaults": ((SECRETS,), {}),
    **{path.stem: ((SECRETS, path), r.ENVIRONMENT_TEST_SET) for path in r.ENVIRONMENT_VALUES},
    "single-replica": ((SECRETS,), {"backend.replicaCount": 1, "frontend.replicaCount": 1}),
    "frontend-loadbalancer": ((SECRETS,), {"frontend.service.type": "LoadBalancer", "frontend.service.allowPlainHttp": True}),
    "frontend-clusterip": ((SECRETS,), {"frontend.service.type": "ClusterIP"}),
    "fixed-nodeport": ((SECRETS,), {"frontend.service.nodePorts.http": 30080}),
    "existing-secret": ((), {"secrets.existingSecret": "todo-credentials"}),
    "openai-provider": (
        (SECRETS,),
        {
            "config.chatProvider": "openai",
            "secrets.openaiApiKey": "sk-fake-for-tests",
            "config.openaiModel": "gpt-4o-mini",
        },
    ),
    "pinned-tags": ((SECRETS,), {"backend.image.tag": "1.2.3", "frontend.image.tag": "2.0.0-rc.1"}),
    "feature-flags": ((SECRETS,), {"config.featureFlags": {"chatHistory": True, "darkMode": False}}),
    "no-prestop-no-tests": (
        (SECRETS,),
        {"backend.preStopSleepSeconds": 0, "frontend.preStopSleepSeconds": 0, "tests.enabled": False},
    ),
    "release-named-like-chart": ((SECRETS,), {"fullnameOverride": "tc"}),
    "ingress-tls": (
        (SECRETS,),
        {"ingress.enabled": True, "ingress.hostname": "todo.test", "frontend.service.type": "ClusterIP"},
    ),
    "network-policy": ((SECRETS,), {"networkPolicy.enabled": True}),
    "network-policy-openai-no-tests": (
        (SECRETS,),
        {
            "networkPolicy.enabled": True,
            "config.chatProvider": "openai",
            "secrets.openaiApiKey": "sk-fake-for-tests",
            "tests.enabled": False,
        },
    ),
}
CASE_IDS = list(RENDER_CASES)


def rendered(case: str, **kwargs: Any) -> list[dict[str, Any]]:
    files, set_values = RENDER_CASES[case]
    return r.render(files, set_values, **kwargs)
