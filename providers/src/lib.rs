//! archipel's contact with the world.
