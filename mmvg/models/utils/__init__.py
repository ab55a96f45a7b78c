from .checkpoint import load_pretrained, unwrap_state_dict
from .ckpt_convert import convert_coc
from .ckpt_convert import convert_vig

__all__ = ['load_pretrained', 'unwrap_state_dict', 'convert_coc']
__all__ += ['convert_vig']
