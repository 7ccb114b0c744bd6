"""Which files hold credentials, by name and by path.

The list follows what established secret scanners (gitleaks, detect-secrets, trufflehog)
treat as credential files: dotenv files in all their spellings, private keys and keystores,
tool configurations that store tokens (`.npmrc`, `.pypirc`, `.netrc`, `.pgpass`,
`.git-credentials`, Docker's and kubectl's configs, the AWS credentials file), Terraform
variables and state, and secrets files of web frameworks. A file matched here is never read
into the index and never put into a prompt; a secret pasted into any other file is masked by
`lsp_ai.redaction` instead.

Patterns are gitignore lines matched case-insensitively against the path relative to the
workspace root: a pattern without a slash matches a name at any depth (`*.tfvars`), one with
a slash matches from the root (`config/prod.yml`), and `**/` makes it match at any depth
(`**/.aws/credentials`). A pattern that names a directory covers everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

#: The built-in list; `index.secret_patterns` adds to it and can never remove from it.
BUILTIN_SECRET_PATTERNS: tuple[str, ...] = (
    # dotenv files: .env, .env.local, .env-prod, .env_test, prod.env, .envrc (direnv)
    ".env",
    ".env.*",
    ".env-*",
    ".env_*",
    "*.env",
    ".envrc",
    # private keys, certificates with keys, keystores, password databases
    "*.pem",
    "*.key",
    "*.p8",
    "*.p12",
    "*.pfx",
    "*.pkcs12",
    "*.ppk",
    "*.jks",
    "*.keystore",
    "*.keychain",
    "*.keychain-db",
    "*.kdbx",
    "*.ovpn",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "secring.*",
    # tool configurations that store tokens or passwords
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".git-credentials",
    ".htpasswd",
    ".dockercfg",
    ".s3cfg",
    ".boto",
    ".vault-token",
    ".terraformrc",
    "terraform.rc",
    "credentials.tfrc.json",
    "**/.docker/config.json",
    "**/.kube/config",
    "kubeconfig",
    "*.kubeconfig",
    "**/.aws/credentials",
    "**/.gem/credentials",
    "**/.config/gcloud/**",
    # cloud and OAuth credential files
    "credentials*.json",
    "client_secret*.json",
    "application_default_credentials.json",
    "*service-account*.json",
    "*service_account*.json",
    # Terraform variables and state (state files hold every resource's secrets in clear)
    "*.tfvars",
    "*.tfvars.json",
    "*.tfstate",
    "*.tfstate.*",
    # secrets files of frameworks and deploy tools
    "secrets.y*ml",
    "secrets.json",
    "secrets.toml",
    "secrets.ini",
    "secrets.env",
    "*.secret",
    "*.secrets",
    "credentials.y*ml*",
    # shell and database client histories: typed passwords end up there
    ".bash_history",
    ".zsh_history",
    ".psql_history",
    ".mysql_history",
)


class BadSecretPattern(ValueError):
    """A pattern that cannot extend the list (a negation, which would remove from it)."""


def secret_pattern_problem(pattern: str) -> str | None:
    """Why a user pattern cannot be added to the list, or None if it can."""
    if pattern.strip().startswith("!"):
        return (
            f"{pattern!r} is a negation; index.secret_patterns only adds secret files "
            "(to index a file the built-in list matches, rename it)"
        )
    return None


class SecretFiles:
    """The built-in secret patterns plus the user's, compiled into one regular expression.

    One expression, not a pattern list: it runs on every file of every crawl.
    """

    def __init__(self, extra: Sequence[str] = ()) -> None:
        """Compile the patterns; raises BadSecretPattern for a negation in `extra`."""
        parts: list[str] = []
        for pattern in (*BUILTIN_SECRET_PATTERNS, *extra):
            problem = secret_pattern_problem(pattern)
            if problem is not None:
                raise BadSecretPattern(problem)
            regex, include = GitIgnoreSpecPattern.pattern_to_regex(pattern)
            if regex is None or not include:
                continue  # a blank line or a comment
            # The named group marks a directory match; unnamed, the parts can be joined.
            parts.append(regex.replace("(?P<ps_d>/)", "/"))
        self.patterns: tuple[str, ...] = (*BUILTIN_SECRET_PATTERNS, *extra)
        self._regex = re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)

    def match(self, rel: str) -> bool:
        """Tell whether a path (relative to the workspace root, `/`-separated) is a secret."""
        return self._regex.match(rel.lstrip("/")) is not None


#: The built-in list alone, for callers without a configuration.
BUILTIN = SecretFiles()


@lru_cache(maxsize=8)
def _compiled(extra: tuple[str, ...]) -> SecretFiles:
    return SecretFiles(extra)


def secret_files(extra: Sequence[str] = ()) -> SecretFiles:
    """The built-in list plus `extra`, compiled once per distinct list."""
    return _compiled(tuple(extra)) if extra else BUILTIN
