use super::*;

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected} ± {tolerance}"
    );
}

type Model = fn(Right, f64, f64, f64, f64, f64) -> Greeks;

const MODELS: [(&str, Model); 2] = [("black76", black76), ("black_scholes", black_scholes)];
const RIGHTS: [Right; 2] = [Right::Call, Right::Put];

#[test]
fn norm_cdf_matches_known_values() {
    assert_eq!(norm_cdf(0.0), 0.5);
    assert_close(norm_cdf(1.0), 0.841_344_746_068_542_9, 1e-15, "N(1)");
    assert_close(norm_cdf(-1.0), 0.158_655_253_931_457_05, 1e-15, "N(-1)");
    assert_close(norm_cdf(3.0), 0.998_650_101_968_369_9, 1e-15, "N(3)");
    assert_close(norm_cdf(-3.0), 0.001_349_898_031_630_1, 1e-15, "N(-3)");
    // 1 − 6.22e-16 is within a couple of ulps of 1, so compare the distance from 1.
    assert_close(1.0 - norm_cdf(8.0), 6.22e-16, 1e-16, "1 - N(8)");
    assert_close(
        norm_cdf(-8.0) / 6.220_960_574_271_784e-16,
        1.0,
        1e-12,
        "N(-8) relative",
    );
}

#[test]
fn norm_cdf_keeps_relative_precision_in_each_region() {
    // References from mpmath at 30 digits; the points straddle the boundaries between
    // Cody's three approximation regions (0.6745 and √32 ≈ 5.657).
    let reference = [
        (1e-10, 0.500_000_000_039_894_2),
        (0.5, 0.691_462_461_274_013_1),
        (-0.5, 0.308_537_538_725_986_9),
        (0.674_489, 0.749_999_761_605_2),
        (0.6745, 0.750_003_257_136_300_8),
        (2.0, 0.977_249_868_051_820_8),
        (-2.0, 0.022_750_131_948_179_21),
        (-5.0, 2.866_515_718_791_939e-7),
        (5.6568, 0.999_999_992_288_935_1),
        (5.657, 0.999_999_992_297_911_8),
        (-10.0, 7.619_853_024_160_525e-24),
        (-20.0, 2.753_624_118_606_233_7e-89),
        (-37.0, 5.725_571_222_524_577e-300),
    ];
    for (x, expected) in reference {
        let relative = (norm_cdf(x) - expected).abs() / expected;
        assert!(
            relative < 1e-13,
            "N({x}) = {}, expected {expected}",
            norm_cdf(x)
        );
    }
}

#[test]
fn norm_cdf_is_symmetric_monotone_and_bounded() {
    let mut previous = 0.0;
    for i in -4000..=4000 {
        let x = f64::from(i) / 100.0;
        let n = norm_cdf(x);
        assert!((0.0..=1.0).contains(&n), "N({x}) = {n}");
        assert!(n >= previous, "N not monotone at {x}");
        assert_close(n + norm_cdf(-x), 1.0, 2e-16, "N(x) + N(-x)");
        previous = n;
    }
    assert_eq!(norm_cdf(f64::INFINITY), 1.0);
    assert_eq!(norm_cdf(f64::NEG_INFINITY), 0.0);
}

#[test]
fn black_scholes_matches_textbook_values() {
    // Hull's example: S = K = 100, T = 1, σ = 20%, r = 5%. Greeks in IB units (vega per
    // point, theta per calendar day), references from mpmath.
    let call = black_scholes(Right::Call, 100.0, 100.0, 1.0, 0.2, 0.05);
    assert_close(call.price, 10.4506, 5e-5, "call price");
    assert_close(call.delta, 0.6368, 5e-5, "call delta");
    assert_close(call.gamma, 0.018_762_017, 1e-9, "call gamma");
    assert_close(call.vega, 0.375_240_347, 1e-9, "call vega");
    assert_close(call.theta, -0.017_572_678, 1e-9, "call theta");

    let put = black_scholes(Right::Put, 100.0, 100.0, 1.0, 0.2, 0.05);
    assert_close(put.price, 5.5735, 5e-5, "put price");
    assert_close(put.delta, -0.363_169_349, 1e-9, "put delta");
    assert_close(put.gamma, call.gamma, 1e-15, "put gamma");
    assert_close(put.vega, call.vega, 1e-15, "put vega");
    assert_close(put.theta, -0.004_542_138, 1e-9, "put theta");
}

#[test]
fn black76_matches_hand_computed_values() {
    // At the money: F = K = 100, T = 0.5, σ = 35%, r = 4%.
    //   d1 = σ√T/2 = 0.35 · 0.707107 / 2 = 0.123744, d2 = −0.123744
    //   N(d1) = 0.549241, e^{−rT} = e^{−0.02} = 0.980199
    //   call = put = e^{−rT} · F · (2N(d1) − 1) = 0.980199 · 100 · 0.098482 = 9.65317
    //   delta call = e^{−rT} N(d1) = 0.538365; put = call − e^{−rT} = −0.441833
    //   gamma = e^{−rT} n(d1) / (F σ√T) = 0.980199 · 0.395900 / 24.7487 = 0.0156800
    //   vega = e^{−rT} F n(d1) √T / 100 = 0.980199 · 100 · 0.395900 · 0.707107 / 100 = 0.274400
    //   theta = (r · price − e^{−rT} F n(d1) σ / (2√T)) / 365
    //         = (0.386127 − 9.604000) / 365 = −0.0252544
    let call = black76(Right::Call, 100.0, 100.0, 0.5, 0.35, 0.04);
    let put = black76(Right::Put, 100.0, 100.0, 0.5, 0.35, 0.04);
    assert_close(call.price, 9.65317, 1e-5, "atm call price");
    assert_close(put.price, 9.65317, 1e-5, "atm put price");
    assert_close(call.delta, 0.538_365, 1e-6, "atm call delta");
    assert_close(put.delta, -0.441_833, 1e-6, "atm put delta");
    assert_close(call.gamma, 0.015_680_0, 1e-7, "atm gamma");
    assert_close(call.vega, 0.274_400, 1e-6, "atm vega");
    assert_close(call.theta, -0.025_254_4, 1e-7, "atm theta");

    // Out of the money call: F = 75, K = 80, T = 0.25, σ = 40%, r = 5%.
    //   σ√T = 0.2, d1 = (ln(75/80) + 0.02) / 0.2 = (−0.064539 + 0.02) / 0.2 = −0.222693
    //   d2 = −0.422693, N(d1) = 0.411887, N(d2) = 0.336260, e^{−rT} = 0.987578
    //   call = 0.987578 · (75 · 0.411887 − 80 · 0.336260) = 0.987578 · 3.990771 = 3.94120
    //   put = call − e^{−rT}(F − K) = 3.94120 + 4.93789 = 8.87909
    //   delta call = 0.987578 · 0.411887 = 0.406771
    let call = black76(Right::Call, 75.0, 80.0, 0.25, 0.4, 0.05);
    let put = black76(Right::Put, 75.0, 80.0, 0.25, 0.4, 0.05);
    assert_close(call.price, 3.94120, 1e-5, "otm call price");
    assert_close(put.price, 8.87909, 1e-5, "itm put price");
    assert_close(call.delta, 0.406_771, 1e-6, "otm call delta");
    assert!(call.theta < 0.0 && put.theta < 0.0, "long options decay");
}

#[test]
fn put_call_parity_holds_for_both_models() {
    for underlying in [20.0, 80.0, 100.0, 120.0, 400.0] {
        for years in [0.01, 0.25, 1.0, 5.0] {
            for vol in [0.05, 0.35, 1.5] {
                for rate in [-0.01, 0.0, 0.05] {
                    let strike = 100.0;
                    let discount = f64::exp(-rate * years);
                    let c = black76(Right::Call, underlying, strike, years, vol, rate);
                    let p = black76(Right::Put, underlying, strike, years, vol, rate);
                    let case = format!("black76 F={underlying} T={years} σ={vol} r={rate}");
                    let parity = discount * (underlying - strike);
                    assert_close(c.price - p.price, parity, 1e-9, &case);
                    assert_close(c.delta - p.delta, discount, 1e-12, &case);
                    assert_close(c.gamma, p.gamma, 1e-15, &case);
                    assert_close(c.vega, p.vega, 1e-15, &case);
                    // d/dt of e^{−rT}(F − K) is r · e^{−rT}(F − K), per day.
                    assert_close(c.theta - p.theta, rate * parity / 365.0, 1e-11, &case);

                    let c = black_scholes(Right::Call, underlying, strike, years, vol, rate);
                    let p = black_scholes(Right::Put, underlying, strike, years, vol, rate);
                    let case = format!("black_scholes S={underlying} T={years} σ={vol} r={rate}");
                    assert_close(
                        c.price - p.price,
                        underlying - strike * discount,
                        1e-9,
                        &case,
                    );
                    assert_close(c.delta - p.delta, 1.0, 1e-12, &case);
                    assert_close(c.gamma, p.gamma, 1e-15, &case);
                    assert_close(c.vega, p.vega, 1e-15, &case);
                    let decay = -rate * strike * discount / 365.0;
                    assert_close(c.theta - p.theta, decay, 1e-11, &case);
                }
            }
        }
    }
}

#[test]
fn greeks_match_finite_differences_of_the_price() {
    for (name, model) in MODELS {
        for right in RIGHTS {
            for underlying in [60.0, 95.0, 100.0, 105.0, 150.0] {
                for years in [0.05, 0.5, 2.0] {
                    for vol in [0.1, 0.35, 0.8] {
                        for rate in [-0.01, 0.0, 0.05] {
                            let price =
                                |u: f64, t: f64, s: f64| model(right, u, 100.0, t, s, rate).price;
                            let g = model(right, underlying, 100.0, years, vol, rate);
                            let case = format!(
                                "{name} {right:?} U={underlying} T={years} σ={vol} r={rate}"
                            );
                            let close = |actual: f64, expected: f64, what: &str| {
                                let tolerance = 1e-6 + 1e-5 * expected.abs();
                                assert_close(
                                    actual,
                                    expected,
                                    tolerance,
                                    &format!("{case} {what}"),
                                );
                            };

                            let h = underlying * 1e-4;
                            let up = price(underlying + h, years, vol);
                            let down = price(underlying - h, years, vol);
                            close(g.delta, (up - down) / (2.0 * h), "delta");
                            close(g.gamma, (up - 2.0 * g.price + down) / (h * h), "gamma");
                            // One volatility point is 0.01 of σ.
                            let h = 1e-4;
                            let up = price(underlying, years, vol + h);
                            let down = price(underlying, years, vol - h);
                            close(g.vega, (up - down) / (2.0 * h) / 100.0, "vega");
                            // Time passing shortens T; one calendar day is 1/365 year.
                            let h = 1e-5;
                            let later = price(underlying, years - h, vol);
                            let earlier = price(underlying, years + h, vol);
                            close(g.theta, (later - earlier) / (2.0 * h) / 365.0, "theta");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn expired_or_volatility_free_options_are_worth_intrinsic_value() {
    for (name, model) in MODELS {
        // Expired, expired in the past, and alive but without volatility.
        for (years, vol) in [(0.0, 0.3), (-0.1, 0.3), (1.0, 0.0), (1.0, -0.2)] {
            let case = format!("{name} T={years} σ={vol}");
            let expect = |right: Right, underlying: f64, price: f64, delta: f64| {
                let g = model(right, underlying, 100.0, years, vol, 0.05);
                let want = Greeks {
                    price,
                    delta,
                    gamma: 0.0,
                    vega: 0.0,
                    theta: 0.0,
                };
                assert_eq!(g, want, "{case} {right:?} U={underlying}");
            };
            expect(Right::Call, 110.0, 10.0, 1.0);
            expect(Right::Call, 90.0, 0.0, 0.0);
            expect(Right::Call, 100.0, 0.0, 0.5);
            expect(Right::Put, 90.0, 10.0, -1.0);
            expect(Right::Put, 110.0, 0.0, 0.0);
            expect(Right::Put, 100.0, 0.0, -0.5);
        }
    }
}

#[test]
fn tiny_expiry_and_extreme_inputs_stay_finite() {
    for (name, model) in MODELS {
        for right in RIGHTS {
            for underlying in [1e-6_f64, 1.0, 50.0, 99.999, 100.0, 100.001, 200.0, 1e9] {
                let intrinsic = match right {
                    Right::Call => (underlying - 100.0).max(0.0),
                    Right::Put => (100.0 - underlying).max(0.0),
                };
                // A billionth of a year leaves almost nothing but intrinsic value.
                let g = model(right, underlying, 100.0, 1e-9, 0.3, 0.05);
                let case = format!("{name} {right:?} U={underlying}");
                assert!(g.is_finite(), "{case} tiny T: {g:?}");
                assert_close(g.price, intrinsic, 1e-3 + 1e-9 * underlying, &case);

                for (years, vol, rate) in [
                    (1.0, 5.0, 0.05),
                    (1e6, 1.0, 0.05),
                    (1e-300, 1e-300, 0.05),
                    (1000.0, 0.3, -1000.0),
                    (1000.0, 0.3, 1000.0),
                ] {
                    let g = model(right, underlying, 100.0, years, vol, rate);
                    assert!(g.is_finite(), "{case} T={years} σ={vol} r={rate}: {g:?}");
                    assert!(g.price >= 0.0, "{case} negative price {g:?}");
                }
            }
        }
    }
}

#[test]
fn deep_in_and_out_of_the_money_deltas_saturate() {
    let discount = f64::exp(-0.05);
    let deep_itm = black76(Right::Call, 1000.0, 100.0, 1.0, 0.3, 0.05);
    assert_close(deep_itm.delta, discount, 1e-12, "deep ITM call delta");
    assert_close(
        deep_itm.price,
        discount * 900.0,
        1e-9,
        "deep ITM call price",
    );
    let deep_otm = black76(Right::Put, 1000.0, 100.0, 1.0, 0.3, 0.05);
    assert_close(deep_otm.delta, 0.0, 1e-12, "deep OTM put delta");
    assert_close(deep_otm.price, 0.0, 1e-12, "deep OTM put price");
    let deep_itm = black_scholes(Right::Put, 10.0, 100.0, 1.0, 0.3, 0.05);
    assert_close(deep_itm.delta, -1.0, 1e-12, "deep ITM stock put delta");
}
