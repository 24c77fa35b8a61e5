//! Option prices and model greeks for the simulated option chains.
//!
//! Reproduces Interactive Brokers' model-greek conventions, so that a client reading the
//! simulator sees the same units as from a real gateway: everything is per ONE unit of the
//! underlying (the contract multiplier is the caller's business), vega is per volatility
//! point and theta per calendar day.
//!
//! Pure: never reads the clock (time to expiry is passed in), never does I/O, and never
//! returns NaN or infinity for finite positive inputs.

/// Whether the option is a call or a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    Call,
    Put,
}

/// Price and greeks of ONE option on ONE unit of the underlying (not multiplied by the
/// contract multiplier).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    pub price: f64,
    /// ∂price/∂underlying.
    pub delta: f64,
    /// ∂²price/∂underlying², per one unit move of the underlying.
    pub gamma: f64,
    /// Price change for a one volatility point rise (∂price/∂σ / 100).
    pub vega: f64,
    /// Price change over one calendar day of time passing (−∂price/∂T / 365).
    pub theta: f64,
}

impl Greeks {
    fn is_finite(self) -> bool {
        [self.price, self.delta, self.gamma, self.vega, self.theta]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// Black-76: option on a future. `forward` F > 0, `strike` K > 0, `years` T to option
/// expiry, `vol` σ annualised (0.35 = 35%), `rate` r continuously compounded.
///
/// At or after expiry (`years <= 0`) or without volatility (`vol <= 0`) the price is the
/// intrinsic value and delta the exercise decision (±0.5 at the money).
pub fn black76(right: Right, forward: f64, strike: f64, years: f64, vol: f64, rate: f64) -> Greeks {
    // A future costs nothing to carry: its price already is the forward.
    cost_of_carry(right, forward, strike, years, vol, rate, 0.0)
}

/// Black–Scholes (no dividends): option on a stock, `spot` S; other arguments and the expiry
/// behaviour as for [`black76`].
pub fn black_scholes(
    right: Right,
    spot: f64,
    strike: f64,
    years: f64,
    vol: f64,
    rate: f64,
) -> Greeks {
    // Holding a stock without dividends costs the risk-free rate.
    cost_of_carry(right, spot, strike, years, vol, rate, rate)
}

/// Standard normal CDF, accurate to about 1e-16 absolute and 1e-15 relative in the tails.
///
/// W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for
/// the error function", Math. Comp. 1969) in the arrangement of his ANORM routine: a direct
/// evaluation of N avoids the cancellation of computing it as (1 + erf(x/√2)) / 2.
pub fn norm_cdf(x: f64) -> f64 {
    let y = x.abs();
    if y <= 0.674_489_75 {
        // |x| up to the quartile: N(x) = 1/2 + x·R(x²).
        let xsq = x * x;
        let mut num = CENTRAL_NUM[4] * xsq;
        let mut den = xsq;
        for (n, d) in CENTRAL_NUM[..3].iter().zip(&CENTRAL_DEN[..3]) {
            num = (num + n) * xsq;
            den = (den + d) * xsq;
        }
        return 0.5 + x * (num + CENTRAL_NUM[3]) / (den + CENTRAL_DEN[3]);
    }
    // Otherwise compute the smaller tail, 1 − N(|x|), so that it keeps full relative precision.
    let tail = if y <= SQRT_32 {
        let mut num = MIDDLE_NUM[8] * y;
        let mut den = y;
        for (n, d) in MIDDLE_NUM[..7].iter().zip(&MIDDLE_DEN[..7]) {
            num = (num + n) * y;
            den = (den + d) * y;
        }
        gaussian(y) * (num + MIDDLE_NUM[7]) / (den + MIDDLE_DEN[7])
    } else if y < 37.519_3 {
        // Asymptotic region: a rational function of 1/x².
        let xsq = 1.0 / (y * y);
        let mut num = TAIL_NUM[5] * xsq;
        let mut den = xsq;
        for (n, d) in TAIL_NUM[..4].iter().zip(&TAIL_DEN[..4]) {
            num = (num + n) * xsq;
            den = (den + d) * xsq;
        }
        let ratio = xsq * (num + TAIL_NUM[4]) / (den + TAIL_DEN[4]);
        gaussian(y) * (FRAC_1_SQRT_2PI - ratio) / y
    } else {
        // Below the smallest normal double.
        0.0
    };
    if x > 0.0 { 1.0 - tail } else { tail }
}

/// e^(−y²/2) with y² split into a part exact in binary and a small remainder: the rounding
/// error of y·y would otherwise be magnified by the exponential far in the tail.
fn gaussian(y: f64) -> f64 {
    let coarse = (y * 16.0).trunc() / 16.0;
    let rest = (y - coarse) * (y + coarse);
    (-coarse * coarse * 0.5).exp() * (-rest * 0.5).exp()
}

fn norm_pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const SQRT_32: f64 = 5.656_854_249_492_381;

// Cody's coefficients, in the order his evaluation loops consume them.
const CENTRAL_NUM: [f64; 5] = [
    2.235_252_035_460_683_7,
    161.028_231_068_555_87,
    1_067.689_485_460_370_9,
    18_154.981_253_343_56,
    0.065_682_337_918_207_45,
];
const CENTRAL_DEN: [f64; 4] = [
    47.202_581_904_688_245,
    976.098_551_737_776_7,
    10_260.932_208_618_979,
    45_507.789_335_026_73,
];
const MIDDLE_NUM: [f64; 9] = [
    0.398_941_512_088_134_66,
    8.883_149_794_388_377,
    93.506_656_132_177_85,
    597.270_276_394_800_2,
    2_494.537_585_290_372_6,
    6_848.190_450_536_283,
    11_602.651_437_647_35,
    9_842.714_838_383_978,
    1.076_557_677_372_019_2e-8,
];
const MIDDLE_DEN: [f64; 8] = [
    22.266_688_044_328_117,
    235.387_901_782_625,
    1_519.377_599_407_554_7,
    6_485.558_298_266_761,
    18_615.571_640_885_097,
    34_900.952_721_145_98,
    38_912.003_286_093_27,
    19_685.429_676_859_992,
];
const TAIL_NUM: [f64; 6] = [
    0.215_898_534_057_957,
    0.127_401_161_160_247_36,
    0.022_235_277_870_649_807,
    0.001_421_619_193_227_893_4,
    2.911_287_495_116_879_3e-5,
    0.023_073_441_764_940_174,
];
const TAIL_DEN: [f64; 5] = [
    1.284_260_096_144_911,
    0.468_238_212_480_865_1,
    0.065_988_137_868_928_56,
    0.003_782_396_332_027_582_4,
    7.297_515_550_839_662e-5,
];

/// Generalised Black–Scholes with cost of carry `carry` (Haug's form): both public models
/// are special cases, so each greek formula exists once.
fn cost_of_carry(
    right: Right,
    underlying: f64,
    strike: f64,
    years: f64,
    vol: f64,
    rate: f64,
    carry: f64,
) -> Greeks {
    let sqrt_t = years.sqrt();
    let vol_sqrt_t = vol * sqrt_t;
    // Also no time value when σ√T underflows to zero (T = σ = 1e-300): d1 would divide by it.
    if !(years > 0.0 && vol > 0.0 && vol_sqrt_t > 0.0) {
        return at_expiry(right, underlying, strike);
    }
    // ln S − ln K rather than ln(S/K): the ratio itself can overflow.
    let d1 = (underlying.ln() - strike.ln() + (carry + 0.5 * vol * vol) * years) / vol_sqrt_t;
    let d2 = d1 - vol_sqrt_t;
    let carry_factor = ((carry - rate) * years).exp();
    let discount = (-rate * years).exp();
    let density = carry_factor * norm_pdf(d1);
    // Decay of the time value, common to calls and puts.
    let decay = -underlying * density * vol / (2.0 * sqrt_t);
    let (price, delta, theta_per_year) = match right {
        Right::Call => {
            let (n1, n2) = (norm_cdf(d1), norm_cdf(d2));
            (
                underlying * carry_factor * n1 - strike * discount * n2,
                carry_factor * n1,
                decay
                    - (carry - rate) * underlying * carry_factor * n1
                    - rate * strike * discount * n2,
            )
        }
        Right::Put => {
            let (n1, n2) = (norm_cdf(-d1), norm_cdf(-d2));
            (
                strike * discount * n2 - underlying * carry_factor * n1,
                -carry_factor * n1,
                decay
                    + (carry - rate) * underlying * carry_factor * n1
                    + rate * strike * discount * n2,
            )
        }
    };
    let greeks = Greeks {
        // Rounding can leave a worthless option a hair below zero.
        price: price.max(0.0),
        delta,
        gamma: density / (underlying * vol_sqrt_t),
        vega: underlying * density * sqrt_t / 100.0,
        theta: theta_per_year / 365.0,
    };
    // Extreme rates or horizons can overflow the discount factors; the intrinsic value is
    // then the only answer that stays finite.
    if greeks.is_finite() {
        greeks
    } else {
        at_expiry(right, underlying, strike)
    }
}

/// Value at expiry: the intrinsic value, with delta reduced to the exercise decision (half
/// way at the money, where either side is as likely).
fn at_expiry(right: Right, underlying: f64, strike: f64) -> Greeks {
    let in_the_money = match right {
        Right::Call => underlying.partial_cmp(&strike),
        Right::Put => strike.partial_cmp(&underlying),
    };
    let exercised = match in_the_money {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Less) => 0.0,
        _ => 0.5,
    };
    let (price, delta) = match right {
        Right::Call => ((underlying - strike).max(0.0), exercised),
        Right::Put => ((strike - underlying).max(0.0), -exercised),
    };
    Greeks {
        price,
        delta,
        gamma: 0.0,
        vega: 0.0,
        theta: 0.0,
    }
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
