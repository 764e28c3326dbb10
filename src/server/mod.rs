//! SKELETON: endpoint
