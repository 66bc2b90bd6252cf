/* The header is all there is; this file gives the target a compilation unit. */
#include "CEventLoop.h"
