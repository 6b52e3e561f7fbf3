"""Any Hugging Face encoder, by hub id or local folder, loaded offline by default.

Hospitals are offline, so weights are read from a local folder or the Hugging Face cache
(``local_files_only=True``) unless the run sets ``allow_download`` (``clinitui train
--allow-download``). Remote code is never run (``trust_remote_code=False``) and safetensors
weights are preferred; a folder with only ``pytorch_model.bin`` is read by transformers with
``torch.load(weights_only=True)``, which does not execute pickled code.

A checkpoint stores the encoder's architecture in ``backbone_config.json`` (clinitui's own
``config.json`` sits in the same folder) and the tokenizer via ``save_pretrained``, so loading a
checkpoint rebuilds the model with ``AutoModel.from_config`` and needs neither the original
folder nor the network.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, ClassVar, Iterator, Optional, Sequence

import torch
from pydantic import Field

from clinitui.errors import CheckpointError, ConfigError, ModelNotFoundError
from clinitui.data.text_encoder import TextEncoder
from clinitui.models.base import Backbone, Options
from clinitui.models.registry import register_backbone

HF_CONFIG_FILE = "backbone_config.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
NO_LIMIT = 1_000_000  # tokenizers without a known limit report model_max_length ≈ 1e30


class HFOptions(Options):
    allow_download: bool = Field(
        False, description="Let transformers download missing files from the Hugging Face hub "
        "(off by default: hospital machines are offline; `clinitui train --allow-download` sets it)."
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute the encoder's activations during backward: less memory, about a "
        "third slower; only useful when the encoder trains (freeze = none or lora)."
    )


class NamedHFOptions(HFOptions):
    path: Optional[str] = Field(
        None, description="Local folder holding these weights (copied from a machine with internet); "
        "default: the model id in the Hugging Face cache."
    )


class HFTextEncoder(TextEncoder):
    """A Hugging Face tokenizer behind ``TextEncoder``: special tokens added, truncated to max_length."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            raise ConfigError(f"tokenizer of '{tokenizer.name_or_path}' has no padding token; "
                              "choose an encoder (BERT/RoBERTa/CamemBERT family) whose tokenizer defines one")
        self.pad_id = int(tokenizer.pad_token_id)
        self.vocab_size = len(tokenizer)
        limit = tokenizer.model_max_length
        self.limit = int(limit) if limit and limit < NO_LIMIT else None

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        # Never longer than the encoder's position table, whatever the run asks for.
        length = min(max_length, self.limit) if self.limit else max_length
        out = self.tokenizer(list(texts), truncation=True, max_length=length, add_special_tokens=True)
        return [list(ids) for ids in out["input_ids"]]

    def save(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(str(directory))


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars: the engine never prints."""
    from transformers.utils import logging

    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def hub_kwargs(options: HFOptions) -> dict:
    return {"local_files_only": not options.allow_download, "trust_remote_code": False}


def not_found(source: str, options: HFOptions, what: str, exc: BaseException) -> ModelNotFoundError:
    """The one-line, actionable error for weights that are not on this machine."""
    folder = Path(source)
    if folder.is_dir():
        present = sorted(p.name for p in folder.iterdir())[:8]
        where = f"in folder {folder} (it holds: {', '.join(present) or 'nothing'})"
    else:
        from huggingface_hub.constants import HF_HUB_CACHE

        where = f"for id '{source}' in the Hugging Face cache {HF_HUB_CACHE}"
        if not options.allow_download:
            where += " (downloads are off)"
    return ModelNotFoundError(
        f"could not load the {what} {where} ({type(exc).__name__}); on a machine with internet run "
        f"`huggingface-cli download {source if not folder.is_dir() else 'MODEL_ID'} --local-dir DIR`, "
        "copy DIR here and pass `--backbone DIR` (or `--allow-download` where the hub is reachable)"
    )


def _from_pretrained_or_config(load, *args: Any, **kwargs: Any):
    """Build without BERT's pooler (unused: clinitui pools itself) where the class allows it."""
    try:
        return load(*args, add_pooling_layer=False, **kwargs)
    except TypeError:
        return load(*args, **kwargs)


@register_backbone("hf")
class HFBackbone(Backbone):
    """Any Hugging Face encoder by id or local folder (offline by default, no remote code)."""

    Options = HFOptions
    pretrained = True
    default_source: ClassVar[Optional[str]] = None  # named subclasses set their hub id
    text_encoder: ClassVar[type] = HFTextEncoder  # the decoder entry pads its own way

    def __init__(self, model: Any, options: HFOptions) -> None:
        super().__init__()
        self.model = model
        self.options = options
        self.hidden_size = int(model.config.hidden_size)
        if options.gradient_checkpointing:
            self.set_gradient_checkpointing(True)

    def set_gradient_checkpointing(self, enabled: bool) -> bool:
        """Recompute the encoder's activations in backward (also called by the memory planner)."""
        model = self.model
        if not getattr(model, "supports_gradient_checkpointing", False):
            return False
        if not enabled:
            (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()
            return True
        # non-reentrant: gradients reach LoRA weights even though the inputs need no grad
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # the transformers ≥ 5 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        return True

    # -- where the weights are ----------------------------------------------------------------
    @classmethod
    def resolve_source(cls, options: HFOptions, source: Optional[str]) -> str:
        """The folder or hub id to load: the ``path`` option, else ``--backbone``, else the entry's id."""
        src = getattr(options, "path", None) or source or cls.default_source
        if not src:
            raise ConfigError(f"backbone '{cls.registry_name}' needs a model: pass `--backbone DIR` (a local folder) "
                              "or a hub id")
        folder = Path(src).expanduser()
        if folder.is_dir():
            if not (folder / "config.json").is_file():
                raise ModelNotFoundError(f"{folder} has no config.json; pass the folder that holds config.json, "
                                         "the tokenizer files and model.safetensors")
            return str(folder)
        if src.startswith(("/", ".", "~")) or src.count("/") > 1:
            raise ModelNotFoundError(f"backbone folder {folder} does not exist; copy the model folder there "
                                     "(e.g. from `huggingface-cli download MODEL_ID --local-dir DIR`) or fix the path")
        return src

    @classmethod
    def check_source(cls, options: HFOptions, source: Optional[str]) -> None:
        """Weights present? A folder must hold weight files; an id must be in the local cache (offline)."""
        src = cls.resolve_source(options, source)
        folder = Path(src)
        if folder.is_dir():
            weights = [p for pattern in ("*.safetensors", "pytorch_model*.bin") for p in folder.glob(pattern)]
            if not weights:
                raise not_found(src, options, "weights", FileNotFoundError("no weight files"))
        elif not options.allow_download:
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(src, "config.json"), str):
                raise not_found(src, options, "model", FileNotFoundError("not in the cache"))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def make_tokenizer(cls, options: HFOptions, source: Optional[str], train_texts: Sequence[str]) -> TextEncoder:
        from transformers import AutoTokenizer

        src = cls.resolve_source(options, source)
        with quiet_transformers():
            try:
                tokenizer = AutoTokenizer.from_pretrained(src, **hub_kwargs(options))
            except Exception as exc:  # OSError when missing, ValueError for unusable tokenizer files
                raise not_found(src, options, "tokenizer", exc) from None
        return cls.text_encoder(tokenizer)

    @classmethod
    def load_tokenizer(cls, directory: Path) -> TextEncoder:
        from transformers import AutoTokenizer

        with quiet_transformers():
            try:
                tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
            except Exception as exc:
                raise CheckpointError(f"{directory}: the tokenizer files cannot be read ({type(exc).__name__}); "
                                      "the checkpoint is incomplete or damaged") from None
        return cls.text_encoder(tokenizer)

    @classmethod
    def create(cls, options: HFOptions, source: Optional[str], tokenizer: TextEncoder) -> "HFBackbone":
        from transformers import AutoConfig, AutoModel

        src = cls.resolve_source(options, source)
        folder = Path(src)
        if folder.is_dir() and not any((folder / f).is_file() for f in WEIGHT_FILES):
            raise not_found(src, options, "weights", FileNotFoundError())
        with quiet_transformers():
            try:
                config = AutoConfig.from_pretrained(src, **hub_kwargs(options))
            except Exception as exc:
                raise not_found(src, options, "model config", exc) from None
            if getattr(config, "is_encoder_decoder", False):
                raise ConfigError(f"'{src}' is an encoder-decoder model; clinitui needs an encoder (BERT, RoBERTa, ...)")
            errors: list[BaseException] = []
            for use_safetensors in (True, False):  # prefer safetensors; .bin only if that is all there is
                try:
                    model = _from_pretrained_or_config(
                        AutoModel.from_pretrained, src, config=config, use_safetensors=use_safetensors,
                        dtype=torch.float32, **hub_kwargs(options))
                    return cls(model, options)
                except (OSError, ValueError) as exc:  # missing files, or unusable ones
                    errors.append(exc)
        raise not_found(src, options, "weights", errors[0])

    @classmethod
    def from_checkpoint(cls, options: HFOptions, directory: Path, tokenizer: TextEncoder) -> "HFBackbone":
        from transformers import AutoConfig, AutoModel

        path = Path(directory) / HF_CONFIG_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            config = AutoConfig.for_model(data.pop("model_type"), **data)
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: missing or unreadable ({type(exc).__name__}); the checkpoint is incomplete") from None
        with quiet_transformers():
            # architecture only: the weights come from the checkpoint's model.safetensors
            model = _from_pretrained_or_config(AutoModel.from_config, config, dtype=torch.float32,
                                               trust_remote_code=False)
        return cls(model, options)

    def save_extra(self, directory: Path) -> None:
        config = self.model.config.to_dict()
        config.pop("_name_or_path", None)  # may be a local path of the machine that trained it
        (Path(directory) / HF_CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")

    # -- running ------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state

    def describe(self) -> dict[str, Any]:
        c = self.model.config
        return {"model_type": c.model_type, "hidden": self.hidden_size,
                "layers": getattr(c, "num_hidden_layers", None), "heads": getattr(c, "num_attention_heads", None),
                "vocab": getattr(c, "vocab_size", None), "gradient_checkpointing": self.options.gradient_checkpointing}
