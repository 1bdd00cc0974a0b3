"""An agent process with extra options and environment, for the e2e tests that need them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from tests.harness import DockyardAgent


@dataclass
class ConfiguredAgent(DockyardAgent):
    """``DockyardAgent`` plus command-line options and environment variables of its own."""

    options: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)

    def start(self) -> ConfiguredAgent:
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.credentials.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.credentials.secret_access_key,
            AWS_DEFAULT_REGION="us-east-1",
            **self.environment,
        )
        command = [
            sys.executable,
            "-m",
            "dockyard",
            "agent",
            "--endpoint",
            self.server.endpoint,
            "--cluster",
            self.cluster,
            "--state-dir",
            str(self.state_dir),
            "--log-level",
            "info",
            *self.options,
        ]
        if self.driver:
            command += ["--driver", self.driver]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self
