"""timm and Hugging Face models built small and without weights, for the tests of declared inputs.

Each factory builds the model object directly (no hub, no download); the
CLI tests name them as ``tests.declared_models:NAME`` callables. timm and
transformers are optional extras: the tests skip when they are missing.
"""

from __future__ import annotations

from typing import Any

from torch import nn

SMALL = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 37}


def _auto(model_type: str, **config: Any) -> nn.Module:
    import torch
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(0)
    return AutoModel.from_config(AutoConfig.for_model(model_type, **config))


def bert() -> nn.Module:
    return _auto("bert", vocab_size=99, **SMALL)


def gpt2() -> nn.Module:
    return _auto("gpt2", vocab_size=99, n_layer=2, n_embd=32, n_head=2, bos_token_id=0, eos_token_id=0)


def llama() -> nn.Module:
    return _auto("llama", vocab_size=99, num_key_value_heads=2, **SMALL)


def t5() -> nn.Module:
    return _auto("t5", vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=2)


def whisper() -> nn.Module:
    return _auto(
        "whisper", vocab_size=99, pad_token_id=1, bos_token_id=2, eos_token_id=3, decoder_start_token_id=2,
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=16, max_source_positions=30, max_target_positions=40,
    )


def vit() -> nn.Module:
    return _auto("vit", image_size=32, patch_size=8, **SMALL)


def clip_vision() -> nn.Module:
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    return CLIPVisionModel(CLIPVisionConfig(image_size=32, patch_size=8, **SMALL))


def wav2vec2() -> nn.Module:
    return _auto(
        "wav2vec2", vocab_size=99, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, **SMALL,
    )


HUGGING_FACE = ("bert", "gpt2", "llama", "t5", "whisper", "vit", "clip_vision", "wav2vec2")

TIMM = (
    # Convolutional families, with the sizes they declare where not 224.
    "resnet18", "resnet10t", "resnet26t", "efficientnet_b0", "efficientnet_b2", "efficientnet_b3", "tinynet_e",
    "mobilenetv3_small_050", "mobilenetv4_conv_small", "lcnet_050", "ghostnetv2_100", "repghostnet_050",
    "mnasnet_050", "fbnetc_100", "semnasnet_050", "hardcorenas_a", "mixnet_s", "regnetx_002", "regnety_002",
    "nf_regnet_b0", "cs3darknet_focus_s", "darknet17", "dla34", "ese_vovnet19b_dw", "resnest14d", "skresnet18",
    "legacy_seresnet18", "xception41", "convnext_atto", "edgenext_xx_small", "mobileone_s0", "repvit_m1",
    "efficientvit_m0", "fastvit_t8", "botnet26t_256", "halonet26t",
    # Transformers, hybrids and MLPs.
    "deit_tiny_patch16_224", "vit_tiny_patch16_384", "crossvit_tiny_240", "levit_128s", "mobilevit_xxs",
    "mobilevitv2_050", "pvt_v2_b0", "pit_ti_224", "gcvit_xxtiny", "maxvit_nano_rw_256", "efficientformerv2_s0",
    "mixer_s32_224", "resmlp_12_224", "mambaout_femto",
)
"""Fifty timm architectures of different families, cheap to build at batch 1."""


def timm_model(name: str) -> nn.Module:
    import timm
    import torch

    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False)


def tinynet_e() -> nn.Module:
    return timm_model("tinynet_e")


def mobilevit_xxs() -> nn.Module:
    return timm_model("mobilevit_xxs")
