"""The planner's table for decoder LLMs: model × quantisation × budget → planned peak, fits or not.

docs/models.md carries this table as generated here (``python -m clinitui.engine.memory.decoder_table``);
tests/test_models_decoder.py checks that the two agree, so the document cannot drift from the planner.
Each cell is planned for the budget's card as if it were not visible here (16-bit = fp16 where the
card's bf16 support is unknown: the same bytes), with the named entry's architecture numbers,
LoRA r = 16 on every attention and MLP projection, a linear head and last-token pooling.
"""

from __future__ import annotations

MODELS = ("qwen2.5-0.5b", "llama-3.2-1b", "qwen2.5-1.5b", "gemma-2-2b", "phi-3.5-mini", "mistral-7b")
QUANTISATIONS = ("4bit", "8bit", "none")
BUDGETS = ("p620-2gb", "gpu-8gb", "gpu-24gb")
LABELS = {"4bit": "4-bit (QLoRA)", "8bit": "8-bit", "none": "16-bit"}


def cell(model: str, quantization: str, budget: str) -> str:
    """``1.23 GiB (µb 4, ckpt)`` when it fits, ``✗ needs 5.50 GiB`` (at the smallest setting) when not."""
    import re

    from clinitui.config.presets import compose
    from clinitui.engine.memory.planner import DeviceInfo, gib, plan_for_config
    from clinitui.errors import ConfigError

    config = compose(backbone=model, adapter="linear", budget=budget,
                     sets=[f'model.backbone_options.quantization="{quantization}"', 'model.pooling="last"'])
    device = DeviceInfo("cuda", None, "the budget's card", None, present=False)
    try:
        plan = plan_for_config(config, device=device)
    except ConfigError as exc:
        need = re.search(r"needs ≈ ([\d.]+ [GM]iB)", str(exc))
        return f"✗ needs {need.group(1)}" if need else "✗"
    ckpt = ", ckpt" if plan.gradient_checkpointing else ""
    return f"{gib(plan.estimate.total)} (µb {plan.micro_batch}{ckpt})"


def markdown() -> str:
    """The table, one row per model and quantisation, one column per budget."""
    head = "| model | weights | " + " | ".join(f"`{b}`" for b in BUDGETS) + " |"
    rows = [head, "|" + "---|" * (2 + len(BUDGETS))]
    for model in MODELS:
        for q in QUANTISATIONS:
            rows.append(f"| `{model}` | {LABELS[q]} | " + " | ".join(cell(model, q, b) for b in BUDGETS) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())
