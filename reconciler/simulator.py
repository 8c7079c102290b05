"""An AWS simulation on loopback (moto's server), for `reconciler sandbox`.

Needs the optional `sandbox` extra (moto); production installs do not have it, and nothing
outside this module imports moto. The tests' fault-injecting and strict simulators build on
it from tests/simulation/.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

# The AWS managed policies the example document attaches. Loading all ~1,500 costs about
# 28 MB and a second per account; these are all the sandbox and the tests need.
MANAGED_POLICIES = ("AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "SecurityAudit")
MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's fixed management account


class Simulator:
    """moto's server on 127.0.0.1 with a few AWS managed policies loaded."""

    def __init__(self, port: int = 0) -> None:
        load_only_managed_policies(MANAGED_POLICIES)
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Wipe every account's state, as if the simulator had just started."""
        # The URL is our own loopback server's, always http.
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            answer.read()


def load_only_managed_policies(names: tuple[str, ...]) -> None:
    """Make every account moto creates from now on load these AWS managed policies, only."""
    # moto reads this module global each time it creates an account's IAM backend; the
    # environment switch makes it load them at all.
    import moto.iam.models as iam_models

    module = vars(iam_models)
    data = json.loads(module["aws_managed_policies_data"])
    module["aws_managed_policies_data"] = json.dumps({k: v for k, v in data.items() if k in names})
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
