/*/ note */
island "a" {
}
