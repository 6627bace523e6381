//! EFGS `Efgs.proto` (proto3, package `eu.interop`).
