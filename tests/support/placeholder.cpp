// Test support library; real helpers live beside this file.
namespace podguard::test {}
