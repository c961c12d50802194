//! Every validation rule, accepted and rejected, on small archipelagos:
//! one module per kind of rule.

mod fixture;

mod backup;
mod commands;
mod island;
mod machines;
mod references;
mod schema;
mod syntax;
mod values;
mod vault;
