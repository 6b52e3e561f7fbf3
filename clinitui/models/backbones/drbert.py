"""DrBERT-7GB (Dr-BERT/DrBERT-7GB): CamemBERT-base architecture pre-trained on French medical text."""

from __future__ import annotations

from clinitui.models.backbones.hf import HFBackbone, NamedHFOptions
from clinitui.models.registry import register_backbone


@register_backbone("drbert")
class DrBERT(HFBackbone):
    """DrBERT: CamemBERT-base pre-trained on 7 GB of French medical text (Dr-BERT/DrBERT-7GB)."""

    Options = NamedHFOptions
    default_source = "Dr-BERT/DrBERT-7GB"
