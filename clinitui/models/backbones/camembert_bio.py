"""CamemBERT-bio (almanach/camembert-bio-base): French biomedical CamemBERT, 12 layers, hidden 768."""

from __future__ import annotations

from clinitui.models.backbones.hf import HFBackbone, NamedHFOptions
from clinitui.models.registry import register_backbone


@register_backbone("camembert-bio")
class CamembertBio(HFBackbone):
    """CamemBERT-bio: French biomedical CamemBERT-base (almanach/camembert-bio-base), pre-trained."""

    Options = NamedHFOptions
    default_source = "almanach/camembert-bio-base"
