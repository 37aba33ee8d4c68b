/* fields.c: what the calls that compile fields given at run time (an
 * override, a grant, a cap, a call's caps) share. */
#include <stdlib.h>

#include "compile.h"
#include "engine.h"

int limitr__compile_status(limitr_engine *e, compiler *cc)
{
    char *text;
    int status;
    if (cc->nomem || cc->errs.nomem) {
        limitr__verr_free(&cc->errs);
        return limitr__nomem(e);
    }
    if (cc->errs.n == 0) {
        limitr__verr_free(&cc->errs);
        return LIMITR_OK;
    }
    text = limitr__verr_join(&cc->errs); /* every problem, one per line */
    status = text != NULL ? limitr__fail(e, LIMITR_INVALID, NULL, "%s", text)
                          : limitr__nomem(e);
    free(text);
    return status;
}
