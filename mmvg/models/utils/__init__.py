from .checkpoint import convert_checkpoint_file, converter_main, load_pretrained, unwrap_state_dict
from .ckpt_convert import convert_coc
from .ckpt_convert import convert_vig
from .ckpt_convert import convert_convmixer, convmixer_stage_depths
from .ckpt_convert import convert_vip

__all__ = ['convert_checkpoint_file', 'converter_main', 'load_pretrained', 'unwrap_state_dict', 'convert_coc']
__all__ += ['convert_vig']
__all__ += ['convert_convmixer', 'convmixer_stage_depths']
__all__ += ['convert_vip']
