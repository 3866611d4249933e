// swift-tools-version:5.5

import PackageDescription

let package = Package(
  // Must be the Rust package's name: Tauri's plugin build links the library by it.
  name: "tauri-plugin-inkan-passkey",
  platforms: [
    .macOS(.v10_13),
    // Secure Enclave keys with biometryCurrentSet and LAContext.evaluateAccessControl.
    .iOS(.v13),
  ],
  products: [
    .library(
      name: "tauri-plugin-inkan-passkey",
      type: .static,
      targets: ["tauri-plugin-inkan-passkey"])
  ],
  dependencies: [
    .package(name: "Tauri", path: "../.tauri/tauri-api")
  ],
  targets: [
    .target(
      name: "tauri-plugin-inkan-passkey",
      dependencies: [
        .byName(name: "Tauri")
      ],
      path: "Sources")
  ]
)
