/* normal.c: the standard normal quantile. A rational approximation (the
 * coefficients published by P. J. Acklam, relative error 1.15e-9) gives the
 * first guess; two Newton steps on Phi(z) = erfc(-z / sqrt 2) / 2 bring it
 * to double precision. */
#include <math.h>

#include "normal.h"

static double first_guess(double q)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double r, t;
    if (q < 0.02425) {
        t = sqrt(-2 * log(q));
        return (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t +
                c[5]) /
               ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
    }
    if (q > 1 - 0.02425) {
        t = sqrt(-2 * log(1 - q));
        return -(((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t +
                 c[5]) /
               ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
    }
    t = q - 0.5;
    r = t * t;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
            a[5]) *
           t /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double limitr__normal_quantile(double q)
{
    double z = first_guess(q);
    int i;
    for (i = 0; i < 2; i++) { /* Newton: z -= (Phi(z) - q) / phi(z) */
        double phi = exp(-z * z / 2) / 2.50662827463100050242; /* sqrt(2 pi) */
        double cdf = 0.5 * erfc(-z / sqrt(2.0));
        if (phi == 0) break;
        z -= (cdf - q) / phi;
    }
    return z;
}
