/* normal.h: the standard normal quantile z(q) (docs/engine.md 18). */
#ifndef LIMITR_NORMAL_H
#define LIMITR_NORMAL_H

/* z such that P(Z <= z) = q, for q in (0, 1), to about 1e-12: a rational
 * first guess refined by Newton steps on erfc. */
double limitr__normal_quantile(double q);

#endif
