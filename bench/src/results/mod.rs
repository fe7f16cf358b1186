//! The results model: what runs, searches and comparisons produce, as plain
//! serde types. A leaf: the generator fills it, the orchestration collects
//! it, the reporting reads it; it depends on neither.

pub mod capacity;
pub mod ceiling;
pub mod chat;
pub mod churn;
pub mod comparison;
pub mod conn_cost_matrix;
pub mod conn_memory;
pub mod conns;
pub mod cost;
pub mod counts;
pub mod echo;
pub mod estimate;
pub mod fairness;
pub mod hist;
pub mod kernel;
pub mod machine;
pub mod matrix;
pub mod series;
pub mod transport;
pub mod work;
pub mod work_matrix;
