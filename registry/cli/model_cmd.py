"""registry denoise, registry export"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from denoiser.defaults import BLIND_DEFAULT, DEFAULT_TILE
from registry.cli.options import DbOption, ForceOption, JsonOption, MaxPixelsOption, optional_workspace
from registry.cli.ui import UI
from registry.workspace import find_workspace

TrustOption = Annotated[
    list[Path] | None,
    typer.Option("--trust", help="Also trust this CA (PEM) for model folders and inputs' manifests; repeatable."),
]
CertOption = Annotated[Path | None, typer.Option("--cert", help="Signing certificate chain (PEM).")]
KeyOption = Annotated[Path | None, typer.Option("--key", help="Signing private key (PEM).")]
WithdrawalsOption = Annotated[
    Path | None,
    typer.Option(
        "--withdrawals",
        help="A signed withdrawal list (registry withdrawals publish); default: the location the model records.",
    ),
]
TsaOption = Annotated[
    str | None,
    typer.Option("--tsa-url", help="RFC 3161 time-stamp authority (default: the workspace's tsa-url setting)."),
]


models_app = typer.Typer(help="Exported model folders.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command(
        "denoise",
        epilog="Example: registry denoise models/reference noisy.png --out denoised/ --sigma 25 "
        "(a colour photo with a gray model: add --luminance)",
    )(denoise)
    app.command("export", epilog="Example: registry export 20261126-0601 --out models/my-model")(export)
    app.command("noise", epilog="Example: registry noise data/starter/camera.png --level 25 --out noisy/")(noise)


def denoise(
    model: Annotated[str, typer.Argument(help="Run id (prefix) or an exported model folder.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(help="PNG, JPEG or TIFF files (8 or 16 bits, gray or colour), or folders.", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs (the input's name).")],
    sigma: Annotated[float | None, typer.Option("--sigma", help="Noise level on the 8-bit scale.")] = None,
    blind: Annotated[bool, typer.Option("--blind", help="Estimate sigma from each image.")] = False,
    estimator: Annotated[
        str, typer.Option("--estimator", help="Blind-mode estimator: liu, pca or mad.")
    ] = BLIND_DEFAULT,
    steps: Annotated[int, typer.Option("--steps", help="Annealed denoising steps K (1 = one step).")] = 1,
    bits: Annotated[int, typer.Option("--bits", help="Output bit depth: 8 or 16.")] = 8,
    format: Annotated[str, typer.Option("--format", help="Output format: png or jpeg.")] = "png",
    luminance: Annotated[
        bool,
        typer.Option("--luminance", help="Gray model on colour photos: denoise Y (ITU-R 601 YCbCr), keep Cb and Cr."),
    ] = False,
    tile: Annotated[
        int,
        typer.Option("--tile", help="Denoise large photos in tiles of N pixels (bounded memory); 0 = whole image."),
    ] = DEFAULT_TILE,
    max_pixels: MaxPixelsOption = None,
    force: ForceOption = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="A folder input: its subfolders' images too (mirrored).")
    ] = False,
    no_sign: Annotated[bool, typer.Option("--no-sign", help="Write unsigned outputs.")] = False,
    cert: CertOption = None,
    key: KeyOption = None,
    thumbnail: Annotated[bool, typer.Option("--thumbnail", help="Embed a C2PA thumbnail (about 1 MB).")] = False,
    trust: TrustOption = None,
    tsa: TsaOption = None,
    unverified_model: Annotated[
        bool,
        typer.Option(
            "--unverified-model", help="Use a model folder whose signature fails; its claims are marked self-declared."
        ),
    ] = False,
    accept_invalid_input: Annotated[
        bool,
        typer.Option(
            "--accept-invalid-input", help="Denoise inputs whose own C2PA manifest fails verification (recorded)."
        ),
    ] = False,
    withdrawals: WithdrawalsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Denoise images with a recorded run or an exported model, and sign each output with C2PA.

    A model folder is used only when its signature verifies against a CA you trust (or the
    package's publisher list). Inputs whose own manifest fails verification are refused.
    A model trained on pictures whose consent is now withdrawn (the registry's records, the
    folder's record, or a signed withdrawal list: --withdrawals or the location the folder
    records) gets a warning, or is refused where the workspace says `withdrawn-models refuse`.
    Inside a workspace every output is recorded; outside one nothing is.

    Colour photos need a colour model, or --luminance with a gray one; outputs keep the
    input's channels, orientation (applied), alpha and ICC profile. Photos larger than
    --tile are denoised in overlapping tiles, in memory set by the tile.
    """
    from provenance.model_signatures import SIGNED
    from registry.denoising import DenoiseOptions, check_options, denoise_files
    from registry.model_resolution import check_withdrawn_training, resolve_model
    from registry.signing_keys import resolve_signer, tsa_url
    from registry.trust_store import chosen_anchors, model_anchors
    from registry.withdrawals import ListSource

    ui = UI(as_json)
    options = DenoiseOptions(
        sigma, blind, estimator, steps, bits, format, thumbnail, accept_invalid_input, luminance, tile, max_pixels
    )
    options.force, options.recursive = force, recursive
    check_options(options)  # before loading anything
    workspace = optional_workspace(db)
    anchors = chosen_anchors(trust or [])
    lists = ListSource(anchors, withdrawals)  # a bad --withdrawals file stops here
    loaded = resolve_model(model, workspace, model_anchors(trust or []), unverified_model)
    if loaded.signature and loaded.signature["status"] != SIGNED:
        ui.warn(f"using model folder {loaded.source} unverified ({loaded.signature['status']}): claims self-declared")
    withdrawn = check_withdrawn_training(loaded, workspace, lists, ui)
    url = tsa_url(workspace, tsa)
    make_signer = None if no_sign else lambda: resolve_signer(workspace, cert, key, ui, url)
    done = denoise_files(loaded, inputs, out, options, workspace, make_signer, ui, anchors, withdrawn)
    rows = [
        {
            "input": str(d.input),
            "output": str(d.output),
            "sigma": d.sigma,
            "sigma_estimated": d.sigma_estimated,
            "channels": d.channels,
            "input_sha256": d.input_sha256,
            "output_sha256": d.output_sha256,
            "signed": d.manifest is not None,
            "training_mining": d.manifest["training_mining"] if d.manifest else None,
        }
        for d in done
    ]
    recorded = workspace is not None
    signed = any(d.manifest is not None for d in done)
    summary = f"{len(rows)} output(s) {'signed and ' if signed else ''}written to {out}"
    ui.result(
        {
            "model": loaded.source,
            "run": loaded.run_id,
            "model_claims": loaded.claims,
            "withdrawn_training_data": withdrawn.summary(),
            "recorded": recorded,
            "outputs": rows,
        },
        lambda: [
            ui.table(
                None,
                ("input", "output", "sigma", "signed"),
                [(r["input"], r["output"], r["sigma"], r["signed"]) for r in rows],
            ),
            ui.line(summary + (", recorded" if recorded else " (not recorded: no workspace)")),
        ],
    )


def export(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the folder's contents.")] = False,
    no_sign: Annotated[bool, typer.Option("--no-sign", help="Leave the folder unsigned.")] = False,
    include_personal: Annotated[
        bool,
        typer.Option(
            "--include-personal", help="Also record who trained it (OS user, git name and e-mail) and local paths."
        ),
    ] = False,
    cert: CertOption = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a self-contained model folder: weights, the run's record, a model card, and its signature.

    The folder is signed (OpenSSF model signing, `model.sig`) with the workspace's key or --cert/--key.
    """
    from registry.exporting import export_run
    from registry.signing_keys import folder_credentials

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    credentials = None if no_sign else folder_credentials(workspace, cert, key, ui)
    folder = export_run(workspace, run, out, force, credentials, include_personal)
    files = sorted(p.name for p in folder.iterdir())
    ui.result(
        {"folder": str(folder), "files": files, "signed": credentials is not None},
        lambda: ui.line(f"exported to {folder}: {', '.join(files)}"),
    )


@models_app.command("sign", epilog="Example: registry models sign models/my-model --cert chain.pem --key key.pem")
def models_sign(
    folder: Annotated[Path, typer.Argument(help="An exported model folder.")],
    cert: CertOption = None,
    key: KeyOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing signature.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a model folder (OpenSSF model signing, `model.sig`) with the workspace's key or --cert/--key.

    Check it afterwards with `registry verify FOLDER`.
    """
    from registry.model_folders import sign_model_folder
    from registry.signing_keys import folder_credentials

    ui = UI(as_json)
    workspace = optional_workspace(db)
    signature = sign_model_folder(folder, folder_credentials(workspace, cert, key, ui), force)
    ui.result({"folder": str(folder), "signature": str(signature)}, lambda: ui.line(f"signed {folder}: {signature}"))


def noise(
    images: Annotated[list[Path], typer.Argument(help="Clean images, or folders of them.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the noisy copy (PNG, the input's name).")],
    kind: Annotated[str, typer.Option("--kind", help="awgn, poisson-gaussian or jpeg.")] = "awgn",
    level: Annotated[float, typer.Option("--level", help="AWGN sigma, photons at white, or JPEG quality.")] = 25.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise.")] = 0,
    force: ForceOption = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="A folder input: its subfolders' images too (mirrored).")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make noisy 8-bit copies of images, to try a model on; prints each copy's path."""
    from registry.noising import make_noisy_files

    ui = UI(as_json)
    workspace = optional_workspace(db)
    targets = make_noisy_files(images, out, kind, level, seed, force, workspace.root if workspace else None, recursive)
    shown = [str(target) for target in targets]
    ui.result(
        {"output": shown[0], "outputs": shown, "kind": kind, "level": level, "seed": seed},
        lambda: [ui.line(line) for line in shown],
    )
