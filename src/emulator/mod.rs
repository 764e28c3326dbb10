//! SKELETON: emulator
