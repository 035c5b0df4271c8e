"""``headlens roles RUN``: which heads have which role, with corrected tests."""

from __future__ import annotations

from ...heads import layer_label
from .options import REPLICATIONS, RoleSettings


def add(sub) -> None:
    p = sub.add_parser("roles", help="head roles (local, delimiter, block, syntactic) with corrected hypothesis tests")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="a run directory made with --analyses roles")
    RoleSettings.add_arguments(p)  # the tests' settings: --tau, --alpha, --correction, --test, --min-n, --block, ...
    p.add_argument("--replicate", choices=REPLICATIONS, help="the original's choices: t with ddof=0, no correction, tau=3")
    p.add_argument("--name", help="name of the output directory under RUN/roles/ (default: default, custom when a "
                                  "setting differs, or the replication)")
    p.add_argument("--top", type=int, default=6, help="heads listed per role")


def _cmd(args) -> int:
    from ...store import layout, open_run
    from .stats import head_roles, save_roles, unsupported_claims

    run = open_run(args.run)
    settings = RoleSettings.from_args(args)
    made_as = run.manifest.get("config", {}).get("options", {}).get("roles", {}).get("replicate", "none")
    if not args.replicate and made_as in REPLICATIONS and settings == RoleSettings():
        args.replicate = made_as  # a run made with --replicate pande2021: the original's tests by default
        print(f"the run was made with --replicate {made_as}: its tests by default (ddof=0, no correction, tau=3)")
    if args.replicate:
        settings = RoleSettings.replicate(args.replicate)
    elif settings != RoleSettings():
        settings = settings.replace(name="custom")
    if args.name:
        settings = settings.replace(name=args.name)
    result = head_roles(run, settings)
    path = save_roles(run, result)
    _print(result, args.top)
    if not args.replicate:
        original = head_roles(run, RoleSettings.replicate("pande2021"))
        c = unsupported_claims(original, result)
        print(f"\nthe original procedure (t with ddof=0, no correction, tau={c['tau']:g}) claims {c['original']} "
              f"head-roles; {c['original_only']} of them are not supported here")
    print(f"tables: {path}/ (heads, colocation, layers .parquet; {layout.PARAMS})")
    return 0


def _print(result, top: int) -> None:
    s = result.settings
    decision = "t" if s.distribution_free == "none" else f"t and {s.distribution_free}"
    print(f"head roles: H1 mean sieve score > tau; {decision} (ddof={s.ddof}), correction {s.correction}, alpha {s.alpha}")
    rows = result.table.to_pylist()
    for tau in s.taus:
        print(f"\ntau = {tau:g}")
        roles = list(dict.fromkeys(r["role"] for r in rows))
        for role in roles:
            cells = [r for r in rows if r["tau"] == tau and r["role"] == role]
            found = sorted((r for r in cells if r["is_role"]), key=lambda r: -(r["mean"] or 0))
            short = sum(1 for r in cells if r["status"] != "ok")
            listed = ", ".join(f"{r['label']} {r['mean']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" for r in found[:top])
            more = f" (+{len(found) - top})" if len(found) > top else ""
            note = f"  [{short} heads: {cells[0]['status'] if short == len(cells) else 'some not tested'}]" if short else ""
            print(f"  {role:<24} {len(found):>3} heads  {listed}{more}{note}")
        _print_layers(result, tau)


def _print_layers(result, tau: float) -> None:
    """Heads per layer for each role family (syntactic = any relation and direction), and co-location."""
    have = result.roles_of(tau)
    groups: dict[str, set] = {}
    for role, heads in have.items():
        groups.setdefault(role.split(":")[0], set()).update(heads)
    layers = int(max((r["layer"] for r in result.table.to_pylist()), default=-1)) + 1
    print("  heads per layer: " + " ".join(f"{layer_label(n):<4}" for n in range(layers)))
    for group, heads in groups.items():
        print(f"    {group:<14} " + " ".join(f"{sum(1 for h in heads if h[0] == n):<4}" for n in range(layers)))
    syn, loc = groups.get("syntactic", set()), groups.get("local", set())
    if syn:
        print(f"  co-location: {len(syn & loc)} of {len(syn)} syntactic heads are also local "
              f"(share {len(syn & loc) / len(syn):.2f}); any role: {len(set().union(*groups.values()))} heads")
