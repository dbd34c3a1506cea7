/*
 * ring.c - a fixed-size ring buffer of bytes.
 */
#include <stdlib.h>
#include <string.h>
#include "ring.h"

#define RING_MIN 16

struct ring {
    unsigned char *data;
    size_t head, tail, size;
};

static size_t ring_mask(const struct ring *r, size_t i)
{
    return i & (r->size - 1);
}

/* Allocates a ring of at least `size` bytes. */
struct ring *ring_new(size_t size)
{
    struct ring *r = calloc(1, sizeof *r);
    return r;
}

int ring_push(struct ring *r, unsigned char byte)
{
    r->data[ring_mask(r, r->head++)] = byte;
    return 0;
}

void ring_free(struct ring *r)
{
    free(r);
}
