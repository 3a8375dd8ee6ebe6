"""bot.config on real files: the SPEC example, every error shape, paths, secrets, lookup."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from bot import config
from bot.config import Config, Project, Registry, Trust, default, find_config_path, load, parse
from bot.errors import ConfigError
from bot.text.durations import format_duration, parse_duration
from handlers._project import BuildKeys, GitOpsKeys

SPEC_EXAMPLE = r"""
[repo]
path = "/srv/git/beckerkube-tasks.git"   # bare: hook mode; clone: watch mode
branch = "main"
tasks_dir = "tasks/active"
state_dir = "/var/lib/taskbot"
integrate = "ff"                          # ff | branch
on_complete = "keep"                      # keep | move (to the sibling completed/ folder)

[identity]
name = "taskbot"
email = "taskbot@build-host"

[trust]                                   # who may make taskbot run things
authors = ["becker@example.com"]          # commit author e-mails
allowed_signers = ""                      # optional: ssh allowed_signers file; then commits must be signed by one of them
# anyone = true                           # explicit opt-out (the demo uses it)

[notify]
urls = ["discord://...", "mailtos://..."] # apprise URLs; or config = "/etc/taskbot/apprise.yml"

[limits]
retries = 1                # a failed command is retried once
command_timeout = "10m"
build_timeout = "15m"
run_soft_limit = "30m"     # past this, a progress notification is sent

[registry]
url = "192.168.7.21:5000"
ca_file = ""               # or insecure = true for a self-signed registry
username = ""
password_file = ""

[projects.ffl]
path = "/home/becker/projects/ffl"
build = ["./scripts/build.sh", "--push", "all"]   # argv; REGISTRY_URL and VERSION are set in its env
images = ["ffl/backend", "ffl/frontend"]
allow_shell = false                                # true lets `shell` actions run argv here

[projects.beckerkube]
path = "/home/becker/projects/beckerkube"
helmrelease = "apps/{app}/helmrelease.yaml"
kustomize = ["clusters/minikube"]
sec_lint = ["./scripts/sec-lint.sh"]

[cluster]
context = "minikube"       # kubectl commands run only if the current context is this

[[rules]]
match = '(?i)^build all (?P<project>[\w-]+) containers with version (?P<version>[\w.+-]+)$'
handler = "build"

[[rules]]
match = '(?i)^run the smoke tests$'
handler = "shell"
params = { project = "ffl", cmd = "make smoke" }
"""  # noqa: E501 - verbatim from SPEC.md section 5


def _write(tmp_path: Path, text: str, name: str = "taskbot.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    prefix = f"{path}: "
    assert message.startswith(prefix)
    return message[len(prefix) :]


def test_spec_example_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, SPEC_EXAMPLE)
    cfg = load(path)

    assert cfg.source == str(path)
    assert cfg.repo == config.RepoConfig(
        path="/srv/git/beckerkube-tasks.git",
        branch="main",
        tasks_dir="tasks/active",
        state_dir="/var/lib/taskbot",
        integrate="ff",
        on_complete="keep",
    )
    assert cfg.identity == config.Identity("taskbot", "taskbot@build-host")
    assert cfg.trust == Trust(authors=("becker@example.com",), allowed_signers="", anyone=False)
    assert cfg.notify.urls == ("discord://...", "mailtos://...")
    assert cfg.limits == config.Limits(
        retries=1, command_timeout=600, build_timeout=900, run_soft_limit=1800
    )
    assert cfg.registry == Registry(url="192.168.7.21:5000")
    assert cfg.registry.password() == ""
    assert cfg.secrets() == ()

    assert list(cfg.projects) == ["ffl", "beckerkube"]
    ffl = cfg.projects["ffl"]  # the handlers' keys through their records
    assert ffl == Project(name="ffl", path="/home/becker/projects/ffl", declared=ffl.declared)
    assert ffl.settings(BuildKeys) == BuildKeys(
        build=("./scripts/build.sh", "--push", "all"),
        images=("ffl/backend", "ffl/frontend"),
    )
    assert ffl.settings(GitOpsKeys) == GitOpsKeys()
    kube = cfg.projects["beckerkube"]
    assert kube.settings(GitOpsKeys).helmrelease == "apps/{app}/helmrelease.yaml"
    assert kube.settings(GitOpsKeys).kustomize == ("clusters/minikube",)
    assert kube.settings(GitOpsKeys).sec_lint == ("./scripts/sec-lint.sh",)
    assert kube.settings(BuildKeys).build == () and kube.branch == "main" and kube.env == ()

    assert cfg.cluster == config.Cluster(context="minikube")
    build, shell = cfg.rules
    assert build.handler == "build" and dict(build.params) == {}
    found = build.match.search("Build all FFL containers with version 0.1.18")
    assert found and found.groupdict() == {"project": "FFL", "version": "0.1.18"}
    assert shell.handler == "shell"
    assert dict(shell.params) == {"project": "ffl", "cmd": "make smoke"}
    assert shell.match.search("Run the smoke tests")


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, SPEC_EXAMPLE))
    with pytest.raises(AttributeError):  # a NamedTuple
        cfg.repo.branch = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.projects["new"] = cfg.projects["ffl"]  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.rules[1].params["cmd"] = "rm -rf /"  # type: ignore[index]


def test_default_has_no_trust_and_no_projects() -> None:
    cfg = default()
    assert isinstance(cfg, Config)
    assert cfg.source == "<defaults>"
    assert cfg.trust is None and cfg.cluster is None
    assert dict(cfg.projects) == {} and cfg.rules == ()
    assert cfg.limits == config.Limits()
    assert cfg.repo.tasks_dir == "tasks/active" and cfg.repo.branch == "main"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, ""))
    assert cfg.trust is None and cfg.cluster is None
    assert cfg.repo.path == str(tmp_path)  # "." is the config file's directory
    assert cfg.identity == config.Identity()


def test_trust_section_present_but_empty(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, "[trust]\n"))
    assert cfg.trust == Trust()
    cfg = load(_write(tmp_path, "[trust]\nanyone = true\n"))
    assert cfg.trust == Trust(anyone=True)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # unknown keys, wherever they are
        ("[repoo]\n", "unknown key 'repoo'"),
        ("verbose = true\n", "unknown key 'verbose'"),
        ("[repo]\nbrnach = 'main'\n", "unknown key 'repo.brnach'"),
        ("[limits]\ntimeout = '1m'\n", "unknown key 'limits.timeout'"),
        ("[projects.ffl]\npath = 'x'\nbuidl = []\n", "unknown key 'projects.ffl.buidl'"),
        ("[projects.ffl]\npath = 'x'\nname = 'ffl'\n", "unknown key 'projects.ffl.name'"),
        (
            "[[rules]]\nmatch = 'x'\nhandler = 'build'\n[[rules]]\nmatch = 'y'\nhandler = 'h'\n"
            "param = {}\n",
            "unknown key 'rules[2].param'",
        ),
        ("[cluster]\n'bad key' = 1\n", "unknown key 'cluster.\"bad key\"'"),
        # types
        ("[repo]\nbranch = 1\n", "repo.branch: expected a string"),
        ("[repo]\npath = ['a']\n", "repo.path: expected a string (a path)"),
        ("repo = 'x'\n", "repo: expected a table"),
        ("[[repo]]\n", "repo: expected a table"),
        ("[trust]\nanyone = 'yes'\n", "trust.anyone: expected true or false"),
        ("[trust]\nauthors = 'me@example.com'\n", "trust.authors: expected a list of strings"),
        ("[notify]\nurls = [1]\n", "notify.urls: expected a list of strings"),
        ("[limits]\nretries = '1'\n", "limits.retries: expected an integer"),
        ("[limits]\nretries = true\n", "limits.retries: expected an integer"),
        ("[registry]\ninsecure = 1\n", "registry.insecure: expected true or false"),
        ("projects = 1\n", "projects: expected a table"),
        ("[projects]\nffl = 'x'\n", "projects.ffl: expected a table"),
        ("rules = 'x'\n", "rules: expected an array of tables ([[rules]])"),
        ("rules = [1]\n", "rules[1]: expected a table"),
        # values
        (
            "[repo]\nintegrate = 'rebase'\n",
            "repo.integrate: must be 'ff' or 'branch', not 'rebase'",
        ),
        (
            "[repo]\non_complete = 'delete'\n",
            "repo.on_complete: must be 'keep' or 'move', not 'delete'",
        ),
        ("[repo]\nbranch = ''\n", "repo.branch: must not be empty"),
        (
            "[repo]\ntasks_dir = '/abs/tasks'\n",
            "repo.tasks_dir: must be a relative path inside the repository",
        ),
        (
            "[repo]\ntasks_dir = '../tasks'\n",
            "repo.tasks_dir: must be a relative path inside the repository",
        ),
        ("[limits]\nretries = 11\n", "limits.retries: must be between 0 and 10, not 11"),
        ("[limits]\nretries = -1\n", "limits.retries: must be between 0 and 10, not -1"),
        (
            "[limits]\ncommand_timeout = '10x'\n",
            "limits.command_timeout: invalid duration '10x'"
            ' (use e.g. "30s", "10m", "1h30m", "500ms")',
        ),
        ("[limits]\nbuild_timeout = 0\n", "limits.build_timeout: must be longer than zero, not 0"),
        ("[limits]\nrun_soft_limit = true\n", "limits.run_soft_limit: expected a duration"),
        ("[cluster]\nrollout_timeout = '-5m'\n", "cluster.rollout_timeout: invalid duration"),
        # projects
        (
            "[projects.ffl]\npath = 'x'\nbuild = './scripts/build.sh --push all'\n",
            "projects.ffl.build: must be a list of argv words, not a shell string",
        ),
        (
            "[projects.ffl]\npath = 'x'\nsec_lint = 'make lint'\n",
            "projects.ffl.sec_lint: must be a list of argv words, not a shell string",
        ),
        (
            "[projects.ffl]\npath = 'x'\nbuild = ['make', 1]\n",
            "projects.ffl.build: must be a list of argv words (strings)",
        ),
        ("[projects.ffl]\nimages = []\n", "projects.ffl.path: missing (required)"),
        ("[projects.ffl]\npath = ''\n", "projects.ffl.path: must not be empty"),
        (
            "[projects.'my proj']\npath = 'x'\n",
            "projects.\"my proj\": invalid project name (allowed: letters, digits, '_' and '-')",
        ),
        (
            "[projects.ffl]\npath = 'a'\n[projects.FFL]\npath = 'b'\n",
            "projects.FFL: same name as project 'ffl' (names ignore case)",
        ),
        (
            "[projects.ffl]\npath = 'x'\nimages = ['ffl/backend', 'FFL/Frontend:1.0']\n",
            "projects.ffl.images[2]: 'FFL/Frontend:1.0' is not an image repository name"
            ' (lowercase, like "ffl/backend", without registry or tag)',
        ),
        (
            "[projects.ffl]\npath = 'x'\nenv = { VERSION = 1 }\n",
            "projects.ffl.env.VERSION: expected a string",
        ),
        (
            "[projects.ffl]\npath = 'x'\nenv = { 'BAD-NAME' = 'x' }\n",
            "projects.ffl.env.BAD-NAME: invalid environment variable name",
        ),
        # rules
        (
            "[[rules]]\nmatch = 'ok'\nhandler = 'build'\n"
            "[[rules]]\nmatch = '(?P<version>unclosed'\nhandler = 'build'\n",
            "rules[2].match: invalid regular expression:"
            " missing ), unterminated subpattern at position 0",
        ),
        ("[[rules]]\nhandler = 'build'\n", "rules[1].match: missing (required)"),
        ("[[rules]]\nmatch = 'x'\n", "rules[1].handler: missing (required)"),
        (
            "[[rules]]\nmatch = 'x'\nhandler = 'Build'\n",
            "rules[1].handler: invalid handler name 'Build' (allowed: [a-z][a-z0-9_-]*)",
        ),
        (
            "[[rules]]\nmatch = 'x'\nhandler = 'build'\nparams = { push = false }\n",
            "rules[1].params.push: expected a string",
        ),
        (
            "[[rules]]\nmatch = 'x'\nhandler = 'build'\nparams = 'push=false'\n",
            "rules[1].params: expected a table of strings",
        ),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, problem: str) -> None:
    assert _error(tmp_path, text).startswith(problem)


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    problem = _error(tmp_path, "[repo]\nbranch = 'main'\n[repo]\n")
    assert problem == "line 3, column 6: invalid TOML: Cannot declare ('repo',) twice"

    problem = _error(tmp_path, "[repo]\nbranch = \n")
    assert problem == "line 2, column 10: invalid TOML: Invalid value"
    assert _error(tmp_path, '[repo]\nbranch = "open') == (
        "line 2 (end of file): invalid TOML: Unterminated string"
    )


def test_unreadable_or_non_utf8_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(f"{missing}: cannot read: No such file")):
        load(missing)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"[identity]\nname = 'caf\xe9'\n")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: not UTF-8 text")):
        load(bad)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10m", 600),
        ("30s", 30),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1m30s", 90),
        ("1.5h", 5400),
        ("2d", 172800),
        ("90", 90),
        (" 10M ", 600),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_durations(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "m", "10", "10 m", "1h 30m", "-5s", "ten", "1x", "1m-2s"])
def test_invalid_durations(value: str) -> None:
    if value == "10":  # a plain number string is seconds; the others are errors
        assert parse_duration(value) == 10
        return
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.5, 2, 2.5, 90, 600, 5400)] == [
        "500ms",
        "2s",
        "2.5s",
        "1m30s",
        "10m",
        "1h30m",
    ]


def test_durations_in_config(tmp_path: Path) -> None:
    text = """
        [limits]
        retries = 0
        command_timeout = 30
        build_timeout = "1h30m"
        run_soft_limit = "500ms"
        [cluster]
        rollout_timeout = "2m"
    """
    cfg = load(_write(tmp_path, text))
    assert cfg.limits == config.Limits(0, 30, 5400, 0.5)
    assert cfg.cluster is not None and cfg.cluster.rollout_timeout == 120


def test_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    text = """
        [repo]
        path = "repo.git"
        state_dir = "../state"
        [trust]
        allowed_signers = "allowed_signers"
        [notify]
        config = "./apprise.yml"
        [registry]
        ca_file = "certs/ca.crt"
        password_file = "registry.pass"
        [projects.ffl]
        path = "../projects/ffl"
        kustomize = ["clusters/minikube"]
        [projects.abs]
        path = "/srv/abs"
        [projects.home]
        path = "~/projects/home"
        [cluster]
        kubeconfig = "kube/config"
    """
    path = _write(etc, text)
    cfg = load(path)
    assert cfg.repo.path == str(etc / "repo.git")
    assert cfg.repo.state_dir == str(tmp_path / "state")
    assert cfg.repo.tasks_dir == "tasks/active"  # inside the repo, not resolved
    assert cfg.trust is not None and cfg.trust.allowed_signers == str(etc / "allowed_signers")
    assert cfg.notify.config == str(etc / "apprise.yml")
    assert cfg.registry.ca_file == str(etc / "certs/ca.crt")
    assert cfg.registry.password_file == str(etc / "registry.pass")
    assert cfg.projects["ffl"].path == str(tmp_path / "projects/ffl")
    # relative to the project
    assert cfg.projects["ffl"].settings(GitOpsKeys).kustomize == ("clusters/minikube",)
    assert cfg.projects["abs"].path == "/srv/abs"
    assert cfg.projects["home"].path == str(Path.home() / "projects/home")
    assert cfg.cluster is not None and cfg.cluster.kubeconfig == str(etc / "kube/config")


def test_relative_source_resolves_against_cwd_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "[projects.ffl]\npath = 'ffl'\n", name="conf/taskbot.toml")
    monkeypatch.chdir(tmp_path)
    cfg = load(Path("conf/taskbot.toml"))
    assert cfg.source == "conf/taskbot.toml"
    assert cfg.projects["ffl"].path == str(tmp_path / "conf/ffl")


def test_password_file_and_secrets(tmp_path: Path) -> None:
    (tmp_path / "registry.pass").write_text("s3cr3t pass\n")
    cfg = load(_write(tmp_path, "[registry]\nusername = 'u'\npassword_file = 'registry.pass'\n"))
    assert cfg.registry.password() == "s3cr3t pass"
    assert cfg.secrets() == ("s3cr3t pass",)


def test_unreadable_password_file(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, "[registry]\npassword_file = 'missing.pass'\n"))
    missing = tmp_path / "missing.pass"
    with pytest.raises(ConfigError) as info:
        cfg.registry.password()
    assert str(info.value) == f"{missing}: registry.password_file: No such file or directory"
    assert cfg.secrets() == ()


def test_password_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "registry-password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load(_write(tmp_path / "etc", "[registry]\npassword_file = 'registry-password'\n"))
    assert cfg.registry.password_file == str(creds / "registry-password")
    assert cfg.registry.password() == "from-systemd"
    assert cfg.secrets() == ("from-systemd",)

    (tmp_path / "abs.pass").write_text("absolute")
    cfg = load(_write(tmp_path / "etc", f"[registry]\npassword_file = '{tmp_path}/abs.pass'\n"))
    assert cfg.registry.password() == "absolute"


def test_parse_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = parse({"projects": {"x": {"path": "x"}}}, "<test>")
    assert cfg.projects["x"].path == str(tmp_path / "x")
    with pytest.raises(ConfigError, match=r"^<test>: repo\.branch: expected a string$"):
        parse({"repo": {"branch": 1}}, "<test>")


def test_project_env_and_flags(tmp_path: Path) -> None:
    text = """
        [projects.ffl]
        path = "/p"
        allow_shell = true
        branch = "develop"
        env = { DOCKER_BUILDKIT = "1", REGISTRY_URL = "r:5000" }
    """
    cfg = load(_write(tmp_path, text))
    ffl = cfg.projects["ffl"]
    assert ffl.allow_shell and ffl.branch == "develop"
    assert ffl.env == (("DOCKER_BUILDKIT", "1"), ("REGISTRY_URL", "r:5000"))


# --- find_config_path -----------------------------------------------------------------


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    system = tmp_path / "etc/taskbot/taskbot.toml"
    monkeypatch.setattr(config, "SYSTEM_CONFIG", system)
    return {
        "explicit": tmp_path / "explicit.toml",
        "env": tmp_path / "env.toml",
        "cwd": cwd / "taskbot.toml",
        "system": system,
    }


def test_find_config_lookup_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_config_path(None) is None
    for name in ("system", "cwd", "env", "explicit"):
        places[name].parent.mkdir(parents=True, exist_ok=True)
        places[name].write_text("")
    monkeypatch.setenv("TASKBOT_CONFIG", str(places["env"]))

    assert find_config_path(str(places["explicit"])) == places["explicit"]
    assert find_config_path(None) == places["env"]
    monkeypatch.delenv("TASKBOT_CONFIG")
    assert find_config_path(None) == places["cwd"]
    places["cwd"].unlink()
    assert find_config_path(None) == places["system"]
    places["system"].unlink()
    assert find_config_path(None) is None


def test_find_config_named_file_must_exist(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    places["cwd"].write_text("")  # a fallback must not hide a wrong explicit path
    missing = places["explicit"]
    with pytest.raises(ConfigError, match=f"^{re.escape(str(missing))}: config file not found$"):
        find_config_path(str(missing))
    monkeypatch.setenv("TASKBOT_CONFIG", str(places["env"]))
    with pytest.raises(ConfigError, match=r"config file not found \(from \$TASKBOT_CONFIG\)$"):
        find_config_path(None)
    with pytest.raises(ConfigError, match="is not a file"):
        find_config_path(str(places["cwd"].parent))


@pytest.mark.parametrize("url", ["https://x-access-token:ghp_s3cret@github.com/o/tasks.git",
                                 "https://ghp_s3cret@github.com/o/tasks.git",
                                 "HTTP://oauth2:glpat-s3cret@gitlab.lan/o/tasks.git"])
def test_a_forge_url_with_credentials_is_refused_without_echoing_them(
        tmp_path: Path, url: str) -> None:
    said = _error(tmp_path, f'[repo]\nremote = "{url}"\n')
    assert said.endswith("repo.remote: an https URL must not carry credentials: put the token "
                         "in repo.token_file")
    assert "s3cret" not in said
    ssh = parse({"repo": {"remote": "ssh://git@forge.lan:2222/o/tasks.git"}}, "<test>")
    assert ssh.repo.remote == "ssh://git@forge.lan:2222/o/tasks.git"


def test_poll_is_at_least_a_second(tmp_path: Path) -> None:
    said = _error(tmp_path, '[repo]\nremote = "ssh://git@forge.lan/o/tasks.git"\npoll = "1ms"\n')
    assert said == "repo.poll: must be at least 1s, not '1ms'"


def test_secrets_are_redacted_as_the_webhook_reads_them(tmp_path: Path) -> None:
    secret = tmp_path / "webhook.secret"
    secret.write_text("  webhook-secret-0123456789  \n")
    cfg = parse({"webhook": {"secret_file": str(secret)}}, str(tmp_path / "taskbot.toml"))
    assert cfg.secrets() == ("webhook-secret-0123456789",)
