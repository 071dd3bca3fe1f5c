/* pyhooks.h: what Go calls in pyhooks.c. */
#ifndef GOWSGI_PYHOOKS_H
#define GOWSGI_PYHOOKS_H

#include <stddef.h>

int gw_hooks_start(const char *source, char **err);
char *gw_hooks_call(const char *name, const char *arg, size_t n, int *failed);

#endif
