"""Commands for the Chalice services: `configure`, and `services` for scripts/deploy.

    python -m infra_bootstrap configure --stage prod
    python -m infra_bootstrap services --stage prod      # name, account, folder, API URL
    eval "$(python -m infra_bootstrap services --stage prod --shell-env order-service)"
"""

from __future__ import annotations

import shlex

import click
from botocore.credentials import ReadOnlyCredentials

from infra_bootstrap import configure as chalice_config
from infra_bootstrap import service_apps
from infra_bootstrap.deployed import read_deployed
from infra_bootstrap.options import stage_options
from infra_bootstrap.sessions import AccountSessions, endpoint_url, require_endpoint_for_local
from infra_bootstrap.topology import Credentials, Stage

_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@click.command(short_help="Write each service's Chalice config and IAM policy file.")
@stage_options
def configure(stage: Stage) -> None:
    """Write each service's .chalice/config.json stage and policy-<stage>.json."""
    changed = chalice_config.write_service_configs(stage)
    for path in changed:
        click.echo(f"wrote {path.relative_to(service_apps.REPO_ROOT)}")
    if not changed:
        click.echo(f"stage {stage.name}: every service's Chalice configuration is up to date")


@click.command(short_help="List the stage's services, or export one's credentials.")
@click.option("--shell-env", "shell_env", metavar="SERVICE", default=None,
              help="Print shell `export` lines giving SERVICE's account credentials and "
                   "region (for `chalice deploy`), instead of the list.")
@stage_options
def services(stage: Stage, shell_env: str | None) -> None:
    """List the stage's services: name, account, Chalice app directory and the URL of its
    deployed REST API (``-`` if none), tab-separated.

    The URL is the one `chalice deploy --stage S` printed (``https://<id>.execute-api...``),
    or, against the local cloud (AWS_ENDPOINT_URL set), the same API's local stage URL
    ``<endpoint>/restapis/<id>/<api stage>/_user_request_/``.
    """
    if shell_env is None:
        for service in stage.services:
            app_dir = service_apps.service_dir(service.name)
            deployed = read_deployed(service.name, app_dir, stage.name)
            url = deployed.api_url(endpoint_url=endpoint_url()) if deployed else None
            click.echo(f"{service.name}\t{service.account}\t{app_dir}\t{url or '-'}")
        return
    account = stage.service(shell_env).account
    how = stage.credentials[account]
    require_endpoint_for_local(stage)
    # Opening the session assumes the role, or checks that the profile or base session
    # really reaches this account, so chalice never deploys into another one.
    session = AccountSessions(stage).session(account)
    assumed = session.get_credentials().get_frozen_credentials() if how.role_arn else None
    for line in shell_exports(stage.region, how, assumed):
        click.echo(line)


def shell_exports(region: str, how: Credentials,
                  assumed: ReadOnlyCredentials | None) -> list[str]:
    """Shell lines that make AWS tools (chalice) act in one account and region.

    ``assumed`` is the frozen credentials of an assumed role, ``None`` for a profile or
    the base session (whose ambient credentials chalice then uses as they are).

    >>> shell_exports("eu-west-1", Credentials(profile="ops"), None)
    ['unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN', 'export AWS_PROFILE=ops', \
'export AWS_DEFAULT_REGION=eu-west-1', 'export AWS_REGION=eu-west-1']
    """
    lines: list[str] = []
    if how.profile is not None:
        # Keys in the environment would take precedence over the profile.
        lines.append("unset " + " ".join(_CREDENTIAL_VARIABLES))
        lines.append(f"export AWS_PROFILE={shlex.quote(how.profile)}")
    elif assumed is not None:
        values = (assumed.access_key, assumed.secret_key, assumed.token or "")
        lines.append("unset AWS_PROFILE")
        lines.extend(f"export {name}={shlex.quote(value)}"
                     for name, value in zip(_CREDENTIAL_VARIABLES, values, strict=True))
    lines.append(f"export AWS_DEFAULT_REGION={shlex.quote(region)}")
    lines.append(f"export AWS_REGION={shlex.quote(region)}")
    return lines


COMMANDS = [configure, services]
