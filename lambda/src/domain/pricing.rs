//! What a job's model calls cost: token counts priced from a table, in micro-dollars
//! (millionths of a US dollar), an estimate of what the model's provider bills for them.

use serde::{Deserialize, Serialize};

/// One model's list prices, in micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// Prompt tokens: text and reference images.
    pub input_per_mtok: u64,
    /// Output tokens: images (and any text beside them).
    pub output_per_mtok: u64,
}

impl ModelPrice {
    /// The cost of `input` and `output` tokens, rounded up to a whole micro-dollar.
    pub fn cost(&self, input: u64, output: u64) -> u64 {
        let micro_millionths = (u128::from(input) * u128::from(self.input_per_mtok))
            .saturating_add(u128::from(output) * u128::from(self.output_per_mtok));
        u64::try_from(micro_millionths.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

/// Google's list prices for the Gemini image models (USD per million tokens; output is
/// 1,290 tokens per 1024 px image for Flash Image), used unless `IMAGEGEN_PRICES` says
/// otherwise.
pub const DEFAULT_PRICES: [(&str, ModelPrice); 2] = [
    (
        "gemini-2.5-flash-image",
        ModelPrice {
            input_per_mtok: 300_000,
            output_per_mtok: 30_000_000,
        },
    ),
    (
        "gemini-3-pro-image-preview",
        ModelPrice {
            input_per_mtok: 2_000_000,
            output_per_mtok: 120_000_000,
        },
    ),
];

/// What one job's model calls used, over every delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The estimated cost of those tokens; `None` when the model has no price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_microdollars: Option<u64>,
}

impl JobUsage {
    /// This usage plus one delivery's tokens, priced at `price`; the delivery's cost is
    /// returned too (0 without a price).
    pub fn plus(&self, input: u64, output: u64, price: Option<ModelPrice>) -> (Self, u64) {
        let cost = price.map_or(0, |p| p.cost(input, output));
        let next = Self {
            input_tokens: self.input_tokens.saturating_add(input),
            output_tokens: self.output_tokens.saturating_add(output),
            cost_microdollars: match (self.cost_microdollars, price) {
                (Some(before), Some(_)) => Some(before.saturating_add(cost)),
                (None, Some(_)) if self.input_tokens == 0 && self.output_tokens == 0 => Some(cost),
                // Nothing new to price: what was known stays known.
                (known, None) if input == 0 && output == 0 => known,
                // Tokens priced by nobody, now or before: any sum would understate them.
                _ => None,
            },
        };
        (next, cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_from_flash_image_costs_its_list_price() {
        let flash = DEFAULT_PRICES[0].1;
        // 1,290 output tokens at $30 per million: $0.0387; 10 prompt tokens at $0.30: $0.000003.
        assert_eq!(flash.cost(10, 1_290), 38_703);
        assert_eq!(flash.cost(0, 0), 0);
        assert_eq!(flash.cost(1, 0), 1, "rounded up, never free");
        assert_eq!(
            ModelPrice {
                input_per_mtok: u64::MAX,
                output_per_mtok: u64::MAX
            }
            .cost(u64::MAX, u64::MAX),
            u64::MAX
        );
    }

    #[test]
    fn usage_adds_up_over_deliveries() {
        let flash = Some(DEFAULT_PRICES[0].1);
        let (one, cost) = JobUsage::default().plus(10, 1_290, flash);
        assert_eq!(cost, 38_703);
        let (two, _) = one.plus(10, 1_290, flash);
        assert_eq!(
            two,
            JobUsage {
                input_tokens: 20,
                output_tokens: 2_580,
                cost_microdollars: Some(77_406)
            }
        );
        // Without a price the cost is unknown, and stays unknown once tokens went unpriced.
        let (unpriced, cost) = JobUsage::default().plus(10, 1_290, None);
        assert_eq!((unpriced.cost_microdollars, cost), (None, 0));
        assert_eq!(unpriced.plus(1, 1, flash).0.cost_microdollars, None);
        // A price that goes away mid-job makes the cost unknown, not understated.
        assert_eq!(one.plus(10, 1_290, None).0.cost_microdollars, None);
        assert_eq!(one.plus(0, 0, None).0.cost_microdollars, Some(38_703));
    }
}
