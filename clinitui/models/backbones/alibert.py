"""AliBERT-7GB (quinten-datalab/AliBERT-7GB): RoBERTa-base architecture, French biomedical, Unigram tokenizer."""

from __future__ import annotations

from clinitui.models.backbones.hf import HFBackbone, NamedHFOptions
from clinitui.models.registry import register_backbone


@register_backbone("alibert")
class AliBERT(HFBackbone):
    """AliBERT: RoBERTa-base pre-trained on French biomedical text (quinten-datalab/AliBERT-7GB)."""

    Options = NamedHFOptions
    default_source = "quinten-datalab/AliBERT-7GB"
