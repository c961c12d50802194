//! Rendering plans for people, scripts and pull requests.
