/*
 * switch_sjlj_suspend.c -- jmpco_sjlj_suspend: the sjlj switch again, for
 * the way back from a coroutine to its resumer.  Same code as
 * jmpco_sjlj_switch (switch_sjlj.c, whose essay explains it), in a file of
 * its own so that it has its own return thunk: see switch_sjlj_core.h.
 */
#include "switch_sjlj_core.h"

JMPCO_SJLJ_RETURN_THUNK

JMPCO_DEFINE_SJLJ_SWITCH(jmpco_sjlj_suspend)
