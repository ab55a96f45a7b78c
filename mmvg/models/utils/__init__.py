from .checkpoint import load_pretrained, unwrap_state_dict
from .ckpt_convert import convert_coc

__all__ = ['load_pretrained', 'unwrap_state_dict', 'convert_coc']
